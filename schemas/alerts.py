"""The alert message (schema v1): what subscribers of `sluice.alerts*` receive.

One JSON object per alert and notification, keyed by the alert's fingerprint (so
one alert's messages stay in order on one partition). Kafka headers repeat the
schema version and carry the idempotency key, which equals `id`.

`id` is derived from (fingerprint, starts_at, status) only, so every copy of one
notification, whether re-sent by a replay or repeated by `repeat_interval`, has
the same id: a subscriber that must act once (open a ticket, roll back) drops ids
it has seen; a pager that wants reminders keys on (id, repeat) instead.

The JSON Schema in schemas/jsonschema/alert.v1.json is generated from the model
(`write_alert_schema`); a unit test fails when it is out of date.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ALERT_SCHEMA_VERSION = 1
ALERT_SCHEMA_PATH = Path(__file__).parent / "jsonschema" / f"alert.v{ALERT_SCHEMA_VERSION}.json"
# Fixed namespace: ids must be identical across processes, hosts and versions.
_ID_NAMESPACE = uuid.UUID("6f1d2b1e-8a43-5c1e-9a57-7d3c0e5b9a10")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Tables an event id can live in, with a one-line rendering of each row.
_EVIDENCE_TABLES = (
    ("logs", "concat(severity_text, ' ', message)"),
    ("security_events", "concat(category, '/', action, ' ', outcome, ' actor=', actor, ' target=', target, "
                        "' ip=', source_ip, ' ', message)"),
    ("metrics", "concat(name, ' = ', toString(value), if(unit = '', '', concat(' ', unit)))"),
)
# Columns every event table has, usable to narrow a time-range evidence query.
_EVIDENCE_FILTER_LABELS = ("tenant", "service", "host")
EVIDENCE_LOOKBACK_S = 300.0
EVIDENCE_ROW_LIMIT = 200


class AlertAnnotations(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    summary: str = Field(description="one line, rendered from the rule's summary template")
    description: str = Field(default="", description="what it means and what to do first, rendered")
    runbook_url: str = Field(default="", description="link to the runbook of the rule")


class AlertEvidence(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    event_ids: list[str] = Field(default_factory=list, description="sample ids of the events behind the alert (capped)")
    sql: str = Field(default="", description="ClickHouse query showing the evidence: those events across logs, "
                                             "security_events and metrics, or the group's events around starts_at")


class AlertMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)

    schema_version: Literal[1] = Field(default=1, description="version of this message format")
    id: str = Field(description="deterministic from fingerprint, starts_at and status: the idempotency key")
    fingerprint: str = Field(description="identity of the alert: rule id plus group labels (16 hex)")
    status: Literal["firing", "resolved"] = Field(description="firing, or resolved once the condition cleared")
    severity: str = Field(description="info, warning or critical")
    rule_id: str = Field(description="id of the rule that raised it")
    title: str = Field(description="rule title")
    labels: dict[str, str] = Field(description="rule_id, severity, team, the group labels and the rule's static labels")
    annotations: AlertAnnotations
    starts_at: float = Field(description="start of the episode, UTC epoch seconds")
    ends_at: float | None = Field(default=None, description="end of the episode (resolved only), UTC epoch seconds")
    value: float | None = Field(default=None, description="the measured value, when the rule has one")
    values: dict[str, Any] = Field(default_factory=dict, description="every value the rule computed, e.g. ratio, "
                                                                     "recommendation (canary)")
    evidence: AlertEvidence
    tenant: str = Field(default="", description="tenant label of the alert; empty when the rule does not group by tenant")
    group_key: str = Field(description="notification group (route and group_by labels) this message was sent with")
    group_size: int = Field(ge=1, description="messages of that group emitted in the same flush")
    repeat: int = Field(default=0, ge=0, description="0 for the first notification, n for the n-th repeat_interval "
                                                     "reminder of a still-firing alert")
    sent_at: float = Field(description="when the alert manager emitted it, UTC epoch seconds")


def alert_id(fingerprint: str, starts_at: float, status: str) -> str:
    """UUIDv5 of the notification's identity; starts_at at microsecond precision (the
    precision of every Sluice time) so a float that went through JSON gives the same id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{fingerprint}|{starts_at:.6f}|{status}"))


def headers_for(msg: AlertMessage) -> list[tuple[str, bytes]]:
    """Kafka headers of an alert message."""
    return [("schema_version", str(msg.schema_version).encode()), ("idempotency_key", msg.id.encode()),
            ("content_type", b"application/json")]


def sql_string(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def evidence_sql(database: str, event_ids: list[str], labels: dict[str, str] | None = None,
                 starts_at: float | None = None, ends_at: float | None = None) -> str:
    """A ready-to-run query over the event tables: by event id when there are ids (only
    UUIDs can be in the UUID column), else the events of the alert's tenant / service /
    host from EVIDENCE_LOOKBACK_S before starts_at to ends_at (or now)."""
    ids = [i for i in event_ids if _UUID.match(i)]
    if ids:
        where = f"event_id IN ({', '.join(sql_string(i) for i in ids)})"
        limit = ""
    elif starts_at is not None:
        start = int((starts_at - EVIDENCE_LOOKBACK_S) * 1_000_000)
        end = f"fromUnixTimestamp64Micro({int(ends_at * 1_000_000)}, 'UTC')" if ends_at is not None else "now64(6)"
        conds = [f"ts BETWEEN fromUnixTimestamp64Micro({start}, 'UTC') AND {end}"]
        conds += [f"{name} = {sql_string(labels[name])}" for name in _EVIDENCE_FILTER_LABELS
                  if labels and labels.get(name)]
        where = " AND ".join(conds)
        limit = f" LIMIT {EVIDENCE_ROW_LIMIT}"
    else:
        return ""
    selects = [f"SELECT '{table}' AS source, event_id, ts, tenant, service, host, {detail} AS detail "
               f"FROM {database}.{table} WHERE {where}" for table, detail in _EVIDENCE_TABLES]
    return "SELECT * FROM (" + " UNION ALL ".join(selects) + f") ORDER BY ts{limit}"


def alert_json_schema() -> dict:
    # Serialization mode: every field is always present in what subscribers receive.
    schema = AlertMessage.model_json_schema(mode="serialization")
    schema["$id"] = f"https://sluice.dev/schemas/alert.v{ALERT_SCHEMA_VERSION}.json"
    schema["title"] = f"Sluice alert message v{ALERT_SCHEMA_VERSION}"
    return schema


def render_alert_schema() -> str:
    return json.dumps(alert_json_schema(), indent=2, sort_keys=True) + "\n"


def write_alert_schema(path: Path = ALERT_SCHEMA_PATH) -> Path:
    """Regenerate the committed JSON Schema file (run after changing AlertMessage)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_alert_schema())
    return path


if __name__ == "__main__":
    print(write_alert_schema())
