"""Instructions per record of in-memory ingest and of its floor, counted by callgrind:
the A/B measure that a shared, noisy machine cannot move.

`bench_ingest` times ingest against its floor (`orjson.loads` + `orjson.dumps` of the
same records) in CPU seconds; on a busy VM two runs minutes apart differ by ±30 %,
which hides any change worth less than that. Instruction counts are deterministic
(hash randomization off): they tell whether a change does less work, though not
exactly how much faster it runs (instructions per cycle differ between orjson's SIMD
code and CPython's dict work).

Each figure is the difference of two runs of the same child under valgrind (one
pass over the records, and none), so start-up and imports cancel out. Needs
`valgrind` on the PATH; about 1.5 minutes for the default 20,000 records.

    python -m benchmarks.instructions [n]        # n records of bench_ingest's mixed corpus (20,000)
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import bench_ingest

_COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")


def collected(valgrind_stderr: str) -> int:
    """The instruction count callgrind reports at exit."""
    m = _COLLECTED.search(valgrind_stderr)
    if m is None:
        raise RuntimeError(f"no callgrind total in valgrind's output:\n{valgrind_stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def _child(corpus_path: str, mode: str, passes: int) -> None:
    """What runs under valgrind: `passes` passes of the floor or of ingest, batch by batch
    as the benchmark does, after the same warm-up batch in both modes."""
    with open(corpus_path, "rb") as f:
        records = pickle.load(f)
    ingestor = bench_ingest._ingestor()
    ingestor.process(records[:bench_ingest.BATCH], bench_ingest.OBSERVED)
    for _ in range(passes):
        for start in range(0, len(records), bench_ingest.BATCH):
            batch = records[start:start + bench_ingest.BATCH]
            if mode == "floor":
                for value, *_ in batch:
                    bench_ingest._floor_one(value)
            else:
                ingestor.process(batch, bench_ingest.OBSERVED)


def _count(corpus_path: str, mode: str, passes: int) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
           "benchmarks.instructions", "--child", corpus_path, mode, str(passes)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return collected(done.stderr)


def run(n: int = 20_000) -> dict:
    if shutil.which("valgrind") is None:
        raise SystemExit("benchmarks.instructions needs valgrind on the PATH (apt install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        corpus_path = str(Path(tmp) / "corpus.pkl")
        with open(corpus_path, "wb") as f:
            pickle.dump(bench_ingest.corpus(n), f)
        counts = {}
        for label, mode, passes in (("start-up", "floor", 0), ("floor", "floor", 1), ("ingest", "ingest", 1)):
            print(f"callgrind: {label} ({n:,} records) ...", file=sys.stderr, flush=True)
            counts[label] = _count(corpus_path, mode, passes)
    floor = (counts["floor"] - counts["start-up"]) / n
    ingest = (counts["ingest"] - counts["start-up"]) / n
    return {"records": n, "floor_instructions_per_record": round(floor),
            "ingest_instructions_per_record": round(ingest), "ingest_vs_floor_instructions": round(floor / ingest, 3)}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(json.dumps(run(n), indent=2))


if __name__ == "__main__":
    main()
