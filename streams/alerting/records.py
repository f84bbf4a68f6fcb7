"""What the alert manager writes out: alert messages and audit (history) rows.

Both are built from the alert's state dict alone, so the same state always gives
the same bytes: a notification rebuilt after a restart is identical to the one
that was recorded as sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from schemas.alerts import AlertAnnotations, AlertEvidence, AlertMessage, alert_id, evidence_sql, headers_for
from streams.alerting.silences import Silence


def snapshot(candidate: Mapping[str, Any], max_ids: int) -> dict:
    """The parts of a rule engine candidate an alert message needs, as plain JSON."""
    labels = {str(k): _text(v) for k, v in (candidate.get("labels") or {}).items()}
    notes = candidate.get("annotations") or {}
    return {
        "title": _text(candidate.get("title")),
        "severity": _text(candidate.get("severity")),
        "labels": labels,
        "annotations": {k: _text(notes.get(k)) for k in ("summary", "description", "runbook_url")},
        "value": number(candidate.get("value")),
        "values": orjson.loads(orjson.dumps(candidate.get("values") or {}, default=str)),
        "event_ids": [str(i) for i in (candidate.get("event_ids") or [])][:max_ids],
        "tenant": labels.get("tenant", ""),
    }


def match_labels(state: Mapping[str, Any]) -> dict[str, str]:
    """Labels silences, routes and inhibition rules see (`alertname` as in Alertmanager)."""
    alert = state["alert"]
    return {**alert["labels"], "alertname": state["rule_id"], "rule_id": state["rule_id"],
            "severity": alert["severity"]}


def message_for(state: Mapping[str, Any], status: str, *, database: str, group_key: str, group_size: int,
                repeat: int, now: float) -> AlertMessage:
    alert = state["alert"]
    ends_at = state.get("ends_at") if status == "resolved" else None
    return AlertMessage(
        id=alert_id(state["fingerprint"], state["starts_at"], status), fingerprint=state["fingerprint"],
        status=status, severity=alert["severity"], rule_id=state["rule_id"], title=alert["title"],
        labels=alert["labels"], annotations=AlertAnnotations(**alert["annotations"]),
        starts_at=state["starts_at"], ends_at=ends_at, value=alert["value"], values=alert["values"],
        evidence=AlertEvidence(event_ids=alert["event_ids"], sql=_evidence(state, database)),
        tenant=alert["tenant"], group_key=group_key, group_size=group_size, repeat=repeat, sent_at=now)


def encode_message(msg: AlertMessage) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of an alert message on an alerts topic."""
    return msg.fingerprint.encode(), orjson.dumps(msg.model_dump(mode="json")), headers_for(msg)


def history_row(state: Mapping[str, Any], change: str, now: float, *, database: str, silence_id: str = "",
                actor: str = "", reason: str = "", group_key: str = "", topics: Iterable[str] = ()) -> dict:
    """One row of the `alerts` audit table; keys are exactly its TableSpec fields."""
    alert = state["alert"]
    return {
        "id": alert_id(state["fingerprint"], state["starts_at"], state["status"]), "ts": now, "change": change,
        "fingerprint": state["fingerprint"], "status": state["status"], "rule_id": state["rule_id"],
        "severity": alert["severity"], "title": alert["title"], "tenant": alert["tenant"],
        "labels": alert["labels"], "annotations": alert["annotations"], "starts_at": state["starts_at"],
        "ends_at": state.get("ends_at"), "value": alert["value"], "evidence_sql": _evidence(state, database),
        "event_ids": alert["event_ids"], "silence_id": silence_id, "actor": actor, "reason": reason,
        "group_key": group_key or state.get("group_key", ""), "topics": list(topics),
    }


def silence_history_row(silence: Silence, change: str, now: float, actor: str = "") -> dict:
    """`silence_added` / `silence_expired` row of the `alerts` audit table."""
    return {
        "id": silence.id, "ts": now, "change": change, "fingerprint": "", "status": silence.status(now),
        "rule_id": "", "severity": "", "title": "", "tenant": "", "labels": {}, "annotations": {},
        "starts_at": silence.starts_at, "ends_at": silence.ends_at, "value": None, "evidence_sql": "",
        "event_ids": [], "silence_id": silence.id, "actor": actor or silence.created_by,
        "reason": f"{silence.comment} [{', '.join(silence.matchers)}]", "group_key": "", "topics": [],
    }


def encode_history(row: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(key, value) of a history row on the alert-history topic (keyed like the alert)."""
    return (row["fingerprint"] or row["silence_id"]).encode(), orjson.dumps(row)


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _evidence(state: Mapping[str, Any], database: str) -> str:
    alert = state["alert"]
    return evidence_sql(database, alert["event_ids"], alert["labels"], state["starts_at"], state.get("ends_at"))


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
