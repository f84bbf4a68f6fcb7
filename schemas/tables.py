"""How each canonical record on a normalized topic maps onto its ClickHouse table.

The store hands ClickHouse the record's JSON text untouched and lets ClickHouse
parse it (`JSONExtract` into a typed tuple): columnar parsing in C++ is several
times cheaper than `orjson.loads` plus column building in Python, and it keeps one
definition of the mapping for both backends.
"""

from __future__ import annotations

from dataclasses import dataclass

COORDINATE_COLUMNS = ("_cluster", "_topic", "_partition", "_offset")
# The relation the store hands ClickHouse: the record text plus its Kafka coordinates.
RAW_SOURCE_STRUCTURE = "raw String, _cluster String, _topic String, _partition UInt16, _offset UInt64"


@dataclass(frozen=True)
class TableSpec:
    table: str
    # (column, type JSONExtract reads the JSON field as); the column order of the table
    fields: tuple[tuple[str, str], ...]

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in self.fields] + list(COORDINATE_COLUMNS)

    def insert_template(self, db: str) -> str:
        """`INSERT ... SELECT` of the table's columns from a relation `{source}` with
        columns raw (the JSON text), _cluster, _topic, _partition, _offset; the backend
        fills in `{source}` and `{settings}`."""
        tuple_type = ", ".join(f"{name} {typ}" for name, typ in self.fields)
        picks = ", ".join(f"e.{name}" for name, _ in self.fields)
        return (
            f"INSERT INTO {db}.{self.table} {{settings}}"
            f"SELECT {picks}, _cluster, _topic, _partition, _offset FROM "
            f"(SELECT JSONExtract(raw, 'Tuple({tuple_type})') AS e, _cluster, _topic, _partition, _offset "
            f"FROM {{source}})"
        )


_COMMON_HEAD = (("event_id", "UUID"), ("ts", "Float64"), ("observed_ts", "Float64"), ("tenant", "String"),
                ("service", "String"), ("env", "String"), ("host", "String"))
_MAP = "Map(String, String)"

TABLES: dict[str, TableSpec] = {
    "logs": TableSpec("logs", _COMMON_HEAD + (
        ("severity_number", "UInt8"), ("severity_text", "String"), ("message", "String"),
        ("trace_id", "String"), ("span_id", "String"), ("attributes", _MAP))),
    "metrics": TableSpec("metrics", _COMMON_HEAD + (
        ("name", "String"), ("type", "String"), ("value", "Float64"), ("unit", "String"),
        ("labels", _MAP), ("attributes", _MAP))),
    "security": TableSpec("security_events", _COMMON_HEAD + (
        ("category", "String"), ("action", "String"), ("outcome", "String"), ("actor", "String"),
        ("target", "String"), ("source_ip", "String"), ("severity_number", "UInt8"),
        ("severity_text", "String"), ("message", "String"), ("attributes", _MAP))),
    "dlq": TableSpec("dead_letters", (
        ("event_id", "UUID"), ("ts", "Float64"), ("reason", "String"), ("detail", "String"),
        ("source_topic", "String"), ("source_partition", "UInt16"), ("source_offset", "UInt64"),
        ("kind", "String"), ("payload", "String"))),
    # Audit rows of streams/alerting (history_row / silence_history_row build them).
    "alert_history": TableSpec("alerts", (
        ("id", "String"), ("ts", "Float64"), ("change", "String"), ("fingerprint", "String"),
        ("status", "String"), ("rule_id", "String"), ("severity", "String"), ("title", "String"),
        ("tenant", "String"), ("labels", _MAP), ("annotations", _MAP), ("starts_at", "Nullable(Float64)"),
        ("ends_at", "Nullable(Float64)"), ("value", "Nullable(Float64)"), ("evidence_sql", "String"),
        ("event_ids", "Array(String)"), ("silence_id", "String"), ("actor", "String"), ("reason", "String"),
        ("group_key", "String"), ("topics", "Array(String)"))),
    # The silences topic's records (streams/alerting/silences.Silence), tombstones excluded.
    "silences": TableSpec("silences", (
        ("id", "String"), ("matchers", "Array(String)"), ("starts_at", "Float64"), ("ends_at", "Float64"),
        ("created_by", "String"), ("comment", "String"), ("state", "String"), ("ts", "Float64"))),
    # schemas.events.DeploymentEvent records of the deployments topic.
    "deployments": TableSpec("deployments", (
        ("event_id", "UUID"), ("ts", "Float64"), ("tenant", "String"), ("service", "String"), ("env", "String"),
        ("version", "String"), ("canary_group", "String"), ("baseline_group", "String"), ("actor", "String"),
        ("description", "String"))),
    # `sluice dlq replay` records what it re-fed, so a second replay skips it.
    "dlq_replays": TableSpec("dlq_replays", (
        ("dead_letter_id", "UUID"), ("ts", "Float64"), ("reason", "String"), ("to_topic", "String"),
        ("replayed_by", "String"))),
}

# Tables of the canonical events ingest writes (they carry `attributes`).
INGESTED_TABLES = ("logs", "metrics", "security_events")
# Tables whose rows carry a unique event_id (used by the duplicate and missing checks).
EVENT_TABLES = (*INGESTED_TABLES, "dead_letters", "deployments")
