"""The sample corpus of tests/corpus/<format>/: real-looking records of each format
and, next to each sample file, the expected outcome of every record.

A sample file is `<name>.<stream>.<ext>`: it is fed to the raw topic of <stream>. Files
ending in .prom or .json hold one record each; other files hold one record per line.
`<name>.<stream>.expected.jsonl` has one line per record: {"record": i, "events":
[...]} (canonical events without observed_ts, which is the fixed OBSERVED anyway) and
"signals": n when card numbers raised signals, "skipped": {reason: n} when events of
the record were skipped, or {"record": i, "dead_letter": reason}.

After a deliberate change of behaviour, rewrite the expectations and review the diff:

    python -m tests.unit.streams.ingest.corpus json syslog ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from schemas.topics import Topics
from streams.ingest.pipeline import IngestConfig, Ingestor

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "corpus"
OBSERVED = 1767225610.0  # 2026-01-01T00:00:10Z: December syslog lines belong to 2025
WHOLE_FILE = (".prom", ".json")
TOPICS = Topics()


def samples(fmt: str) -> list[Path]:
    return sorted(p for p in (CORPUS / fmt).iterdir() if p.is_file() and not p.name.endswith(".expected.jsonl"))


def records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.suffix in WHOLE_FILE:
        return [data]
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def stream_of(path: Path) -> str:
    return path.name.split(".")[-2]


def expected_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(path.suffix)] + ".expected.jsonl")


def outcome(ingestor: Ingestor, value: bytes, topic: str, index: int) -> dict:
    out = ingestor.process([(value, topic, 0, index)], OBSERVED, keep_events=True)
    if out.dropped:
        (reason,) = out.dropped
        assert not out.events, "a record is either dead-lettered or lands"
        return {"record": index, "dead_letter": reason}
    result: dict = {"record": index, "events": [{k: v for k, v in ev.items() if k != "observed_ts"}
                                                 for ev in out.events]}
    signals = len(out.by_topic.get(TOPICS.signals, []))
    if signals:
        result["signals"] = signals
    if out.skipped:
        result["skipped"] = out.skipped
    return result


def run(path: Path, cfg: IngestConfig | None = None) -> list[dict]:
    ingestor = Ingestor(TOPICS, cfg or IngestConfig())
    topic = TOPICS.raw(stream_of(path))
    return [outcome(ingestor, value, topic, i) for i, value in enumerate(records(path))]


def load_expected(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in expected_path(path).read_bytes().splitlines() if line.strip()]


def differences(expected: dict, actual: dict) -> list[str]:
    """Field-by-field differences of one record's outcome, readable in a failure."""
    problems = []
    if "dead_letter" in expected or "dead_letter" in actual:
        if expected.get("dead_letter") != actual.get("dead_letter"):
            problems.append(f"outcome: expected {expected}, got {actual}")
        return problems
    for key, default in (("signals", 0), ("skipped", {})):
        if expected.get(key, default) != actual.get(key, default):
            problems.append(f"{key}: expected {expected.get(key, default)}, got {actual.get(key, default)}")
    exp_events, act_events = expected["events"], actual["events"]
    if len(exp_events) != len(act_events):
        return [*problems, f"events: expected {len(exp_events)}, got {len(act_events)}"]
    for n, (e, a) in enumerate(zip(exp_events, act_events, strict=True)):
        for key in sorted(set(e) | set(a)):
            if e.get(key) != a.get(key):
                problems.append(f"event {n} field {key!r}: expected {e.get(key)!r}, got {a.get(key)!r}")
    return problems


def write(fmt: str) -> None:
    for path in samples(fmt):
        lines = [orjson.dumps(r, option=orjson.OPT_SORT_KEYS).decode() for r in run(path)]
        expected_path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {expected_path(path).relative_to(CORPUS)} ({len(lines)} records)")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        write(name)
