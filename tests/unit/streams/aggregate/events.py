"""Canonical event dicts for aggregation tests (the shape streams.ingest.normalize produces)."""

from __future__ import annotations

_seq = [0]


def _common(ts: float, tenant: str, service: str, attributes: dict | None) -> dict:
    _seq[0] += 1
    return {"event_id": f"e{_seq[0]}", "ts": ts, "observed_ts": ts, "tenant": tenant, "service": service,
            "env": "prod", "host": "h1", "attributes": attributes or {}}


def metric(ts: float, name: str, value: float, labels: dict | None = None, mtype: str = "gauge",
           tenant: str = "t1", service: str = "api", unit: str = "") -> dict:
    return {**_common(ts, tenant, service, None), "kind": "metric", "name": name, "type": mtype,
            "value": value, "unit": unit, "labels": labels or {}}


def log(ts: float, severity: str = "INFO", number: int = 9, tenant: str = "t1", service: str = "api",
        attributes: dict | None = None) -> dict:
    return {**_common(ts, tenant, service, attributes), "kind": "log", "severity_number": number,
            "severity_text": severity, "message": "m", "trace_id": "", "span_id": ""}


def security(ts: float, actor: str = "alice", source_ip: str = "10.0.0.1", outcome: str = "success",
             category: str = "authentication", action: str = "login", tenant: str = "t1") -> dict:
    return {**_common(ts, tenant, "auth", None), "kind": "security", "category": category, "action": action,
            "outcome": outcome, "actor": actor, "target": "", "source_ip": source_ip,
            "severity_number": 9, "severity_text": "INFO", "message": ""}
