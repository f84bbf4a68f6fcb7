"""Run summaries measured in ClickHouse (never from counters): rows per table, events
acknowledged by the broker but absent from ClickHouse, and duplicates."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.tables import EVENT_TABLES
from sinks.kafka import KafkaConfig
from sinks.kafka_tail import assign_tail, read_until_end, reader
from sluice.sqlclient import SqlClient


def table_names(sql: SqlClient) -> list[str]:
    rows = sql.rows(
        f"SELECT name FROM system.tables WHERE database = '{sql.database}' "
        "AND engine NOT LIKE '%View%' AND name != 'schema_migrations' AND NOT startsWith(name, '.inner') ORDER BY name")
    return [r["name"] for r in rows]


def has_column(sql: SqlClient, table: str, column: str) -> bool:
    return bool(sql.scalar(
        f"SELECT count() FROM system.columns WHERE database = '{sql.database}' "
        f"AND table = '{table}' AND name = '{column}'"))


def rows_per_table(sql: SqlClient, cluster: str) -> dict[str, int]:
    out = {}
    for t in table_names(sql):
        where = f" WHERE _cluster = '{cluster}'" if has_column(sql, t, "_cluster") else ""
        out[t] = int(sql.scalar(f"SELECT count() FROM {sql.database}.{t}{where}"))
    return out


def landed(sql: SqlClient, cluster: str, alone: bool = False) -> int:
    """Rows of this cluster across the event tables (progress and drain checks).
    alone: the tables hold no other cluster's rows (`alone()`), so every row counts and
    ClickHouse answers from its parts' row counts instead of scanning `_cluster` (6.5
    against 38-95 ms of the sink's CPU at 3.6 M rows, every progress line of a demo)."""
    where = "" if alone else f" WHERE _cluster = '{cluster}'"
    parts = " UNION ALL ".join(f"SELECT count() AS c FROM {sql.database}.{t}{where}" for t in EVENT_TABLES)
    return int(sql.scalar(f"SELECT sum(c) FROM ({parts})") or 0)


def alone(sql: SqlClient, cluster: str) -> bool:
    """Whether the event tables hold rows of this cluster only. Checked once when a run
    starts: only its own sink writes the tables while it runs."""
    parts = " UNION ALL ".join(
        f"SELECT count() AS c FROM {sql.database}.{t} WHERE _cluster != '{cluster}'" for t in EVENT_TABLES)
    return not int(sql.scalar(f"SELECT sum(c) FROM ({parts})") or 0)


def duplicates(sql: SqlClient, cluster: str) -> int:
    parts = " UNION ALL ".join(
        f"SELECT count() - uniqExact(event_id) AS d FROM {sql.database}.{t} WHERE _cluster = '{cluster}'"
        for t in EVENT_TABLES)
    return int(sql.scalar(f"SELECT sum(d) FROM ({parts})") or 0)


def duplicate_report(sql: SqlClient, cluster: str) -> list[dict]:
    """Where duplicated events sit: per table and source partition of the first copy,
    how many event ids have more than one row and the offset ranges of their first and
    last copies (copies at distant offsets: a batch written twice upstream; at the same
    offsets: a store insert that was not deduplicated)."""
    parts = " UNION ALL ".join(
        f"SELECT '{t}' AS table, any(_topic) AS topic, arraySort(groupArray((_partition, _offset))) AS c "
        f"FROM {sql.database}.{t} WHERE _cluster = '{cluster}' GROUP BY event_id HAVING count() > 1"
        for t in EVENT_TABLES)
    return sql.rows(
        f"SELECT table, topic, c[1].1 AS partition, count() AS ids, min(c[1].2) AS first_from, "
        f"max(c[1].2) AS first_to, min(c[-1].1) AS last_partition, min(c[-1].2) AS last_from, "
        f"max(c[-1].2) AS last_to FROM ({parts}) GROUP BY table, topic, partition ORDER BY table, topic, partition")


def missing(sql: SqlClient, cluster: str, acked_ids_file: Path) -> int:
    """Acknowledged ids (one per line in the file) that no event table holds."""
    union = " UNION ALL ".join(
        f"SELECT event_id FROM {sql.database}.{t} WHERE _cluster = '{cluster}'" for t in EVENT_TABLES)
    path = str(acked_ids_file.resolve()).replace("'", "\\'")
    return int(sql.scalar(
        f"SELECT count() FROM file('{path}', 'TSV', 'event_id UUID') WHERE event_id NOT IN ({union})") or 0)


def alerts_on_topic(kafka: KafkaConfig) -> list[dict]:
    """Every alert message on the notification topic, in order (the demo's `alerts`)."""
    consumer = reader(kafka)
    try:
        ends = assign_tail(consumer, [kafka.topics.alerts], None)
        return [orjson.loads(m.value()) for m in read_until_end(consumer, ends) if m.value()]
    finally:
        consumer.close()
