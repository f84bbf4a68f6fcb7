"""How each canonical record on a normalized topic maps onto its ClickHouse table.

The store hands ClickHouse the record's JSON text untouched and lets ClickHouse
parse it (`JSONExtract` into a typed tuple): columnar parsing in C++ is several
times cheaper than `orjson.loads` plus column building in Python, and it keeps one
definition of the mapping for both backends.
"""

from __future__ import annotations

from dataclasses import dataclass

COORDINATE_COLUMNS = ("_cluster", "_topic", "_partition", "_offset")
# The raw record an ingested row came from (schemas/source.py): "topic/partition", offset,
# index of the event in the record; empty for records written without one.
SOURCE_COLUMNS = ("_source", "_source_offset", "_source_index")
# The relation the store hands ClickHouse: the record text, its Kafka coordinates, its source.
RAW_SOURCE_COLUMNS = (("raw", "String"), ("_cluster", "String"), ("_topic", "String"), ("_partition", "UInt16"),
                      ("_offset", "UInt64"), ("_source", "String"), ("_source_offset", "UInt64"),
                      ("_source_index", "UInt32"))
RAW_SOURCE_STRUCTURE = ", ".join(f"{name} {typ}" for name, typ in RAW_SOURCE_COLUMNS)


@dataclass(frozen=True)
class TableSpec:
    table: str
    # (column, type JSONExtract reads the JSON field as); the column order of the table
    fields: tuple[tuple[str, str], ...]
    sourced: bool = False  # written by ingest: keeps SOURCE_COLUMNS
    # SQL giving back the Kafka key ingest wrote a row's record with (sourced tables)
    record_key: str = "''"

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return SOURCE_COLUMNS if self.sourced else ()

    def insert_template(self, db: str) -> str:
        """`INSERT ... SELECT` of the table's columns from a relation `{source}` with
        columns raw (the JSON text), the coordinates and the source (RAW_SOURCE_STRUCTURE);
        the backend fills in `{source}` and `{settings}`."""
        tuple_type = ", ".join(f"{name} {typ}" for name, typ in self.fields)
        picks = ", ".join(f"e.{name}" for name, _ in self.fields)
        kept = ", ".join(COORDINATE_COLUMNS + self.extra_columns)
        return (
            f"INSERT INTO {db}.{self.table} {{settings}}"
            f"SELECT {picks}, {kept} FROM "
            f"(SELECT JSONExtract(raw, 'Tuple({tuple_type})') AS e, {kept} FROM {{source}})"
        )


_COMMON_HEAD = (("event_id", "UUID"), ("ts", "Float64"), ("observed_ts", "Float64"), ("tenant", "String"),
                ("service", "String"), ("env", "String"), ("host", "String"))
_MAP = "Map(String, String)"
# Ingest keys an event's record by tenant and service (streams/ingest/hotloop.py), a dead letter's by reason.
_TENANT_SERVICE = "concat(tenant, '|', service)"

TABLES: dict[str, TableSpec] = {
    "logs": TableSpec("logs", _COMMON_HEAD + (
        ("severity_number", "UInt8"), ("severity_text", "String"), ("message", "String"),
        ("trace_id", "String"), ("span_id", "String"), ("attributes", _MAP)), sourced=True, record_key=_TENANT_SERVICE),
    "metrics": TableSpec("metrics", _COMMON_HEAD + (
        ("name", "String"), ("type", "String"), ("value", "Float64"), ("unit", "String"),
        ("labels", _MAP), ("attributes", _MAP)), sourced=True, record_key=_TENANT_SERVICE),
    "security": TableSpec("security_events", _COMMON_HEAD + (
        ("category", "String"), ("action", "String"), ("outcome", "String"), ("actor", "String"),
        ("target", "String"), ("source_ip", "String"), ("severity_number", "UInt8"),
        ("severity_text", "String"), ("message", "String"), ("attributes", _MAP)), sourced=True,
        record_key=_TENANT_SERVICE),
    "dlq": TableSpec("dead_letters", (
        ("event_id", "UUID"), ("ts", "Float64"), ("reason", "String"), ("detail", "String"),
        ("source_topic", "String"), ("source_partition", "UInt16"), ("source_offset", "UInt64"),
        ("kind", "String"), ("payload", "String")), sourced=True, record_key="reason"),
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
