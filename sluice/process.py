"""`sluice process`: run files through the whole pipeline (collector -> Kafka -> ingest
-> sink, and detection), wait until everything is drained, and summarise like the demo.

Each line is one record (blank ones too), except a file that is one JSON document spread over several
lines (OTLP exports) or a Prometheus exposition page, which is one record. Every
record is accounted for by its source coordinates: it landed as event(s) (ingest adds
`attributes['sluice.source']` in this mode) or as a dead letter."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from collectors.publisher import Publisher
from schemas.tables import INGESTED_TABLES
from sinks.kafka import kafka_cluster_id
from sluice import summary
from sluice.settings import Settings
from sluice.sqlclient import SqlClient
from sluice.stack import Stack
from sluice.waiting import wait_alerts_settled, wait_quiet

CHUNK = 5000


def records_of(path: Path, fmt: str) -> Iterator[bytes]:
    data = path.read_bytes()
    if fmt == "prometheus" or (fmt == "auto" and (data.startswith(b"# HELP") or data.startswith(b"# TYPE"))):
        yield data
        return
    stripped = data.strip()
    if stripped.startswith((b"{", b"[")) and b"\n" in stripped:
        try:
            orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass  # JSON lines, not one document
        else:
            yield stripped
            return
    # Every line is a record, blank ones included (they become dead letters): a line
    # that silently vanished would break the promise that each one is accounted for.
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        yield line.rstrip(b"\r")


def missing_records(sql: SqlClient, cluster: str, acked_file: Path) -> int:
    """Acknowledged records (topic/partition/offset per line) with neither an event nor a dead letter."""
    db = sql.database
    parts = [f"SELECT attributes['sluice.source'] AS src FROM {db}.{t} WHERE _cluster = '{cluster}'"
             for t in INGESTED_TABLES]
    parts.append(f"SELECT concat(source_topic, '/', toString(source_partition), '/', toString(source_offset)) "
                 f"FROM {db}.dead_letters WHERE _cluster = '{cluster}'")
    path = str(acked_file.resolve()).replace("'", "\\'")
    return int(sql.scalar(f"SELECT count() FROM file('{path}', 'TSV', 'src String') "
                          f"WHERE src NOT IN ({' UNION ALL '.join(parts)})") or 0)


def run_process(settings: Settings, files: list[Path], kind: str, fmt: str, summary_json: Path | None,
                echo: Callable[[str], None] = print, alerts_quiet_s: float = 10.0) -> dict:
    """alerts_quiet_s: the notifications are collected once none arrived for this long
    (alert grouping holds them back for its group_wait)."""
    settings.ingest.lineage = True
    if fmt != "auto":
        settings.ingest.formats = {**settings.ingest.formats, kind: fmt}
    stack = Stack(settings).start()
    run_dir = settings.data_dir / "runs" / time.strftime("process-%Y%m%dT%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        sql = SqlClient(settings, stack.sql_url)
        cluster = kafka_cluster_id(settings.kafka)
        pub = Publisher(settings.kafka, track="coordinates")
        started = time.monotonic()
        for path in files:
            n = 0
            batch: list[tuple[bytes, bytes]] = []
            for record in records_of(path, fmt):
                batch.append((b"", record))
                if len(batch) >= CHUNK:
                    pub.publish({kind: batch})
                    n += len(batch)
                    batch = []
            if batch:
                pub.publish({kind: batch})
                n += len(batch)
            echo(f"  {path}: {n:,} record(s)")
        pub.flush()
        acked_file = run_dir / "acked_records.tsv"
        acked_file.write_bytes(b"\n".join(pub.acked_ids) + b"\n")
        echo(f"published {pub.stats.acked:,} record(s); waiting for the pipeline to drain ...")
        deadline = time.monotonic() + 300

        def still_missing() -> int:
            stack.supervise()
            return missing_records(sql, cluster, acked_file)

        while still_missing() and time.monotonic() < deadline:
            time.sleep(1.0)
        stack.stop_stage("ingest")  # emits open windows
        wait_quiet(lambda: summary.landed(sql, cluster), 3.0, 60.0)
        alerts = wait_alerts_settled(settings, alerts_quiet_s)
        result = {
            "seconds": round(time.monotonic() - started, 3),
            "produced": dict(pub.stats.produced),
            "rows": summary.rows_per_table(sql, cluster),
            "missing": missing_records(sql, cluster, acked_file),
            "duplicates": summary.duplicates(sql, cluster),
            "alerts": alerts,
            "files": [str(f) for f in files],
        }
        pub.close()
    finally:
        stack.close()
    echo(f"processed {sum(result['produced'].values()):,} record(s) in {result['seconds']:.1f}s")
    for table, n in result["rows"].items():
        if n:
            echo(f"    {table:<20} {n:>12,}")
    echo(f"  missing: {result['missing']}   duplicates: {result['duplicates']}   alerts: {len(alerts)}")
    for a in alerts:
        echo(f"    [{a.get('severity')}] {a.get('status')} {a.get('rule_id')}: "
             f"{(a.get('annotations') or {}).get('summary', a.get('title'))}")
    if summary_json is not None:
        summary_json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return result
