"""Turn a decoded record (a dict of whatever field names the agent used) into a
canonical event dict (schemas/events.py).

Field aliases cover the shapes agents really send: flat JSON, nested/ECS-style
(`log.level`, `service.name`), OpenTelemetry-style (`severityText`, `traceId`).
Whatever is not a canonical field is kept, flattened, in `attributes`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from schemas.errors import DecodeError

TIME_KEYS = ("ts", "timestamp", "@timestamp", "time", "eventTime", "event_time", "datetime",
             "timeUnixNano", "observedTimeUnixNano", "date")
LEVEL_KEYS = ("severity_text", "level", "severity", "severityText", "lvl", "loglevel", "log.level", "levelname")
MESSAGE_KEYS = ("message", "msg", "log", "text", "body", "event.original")
SERVICE_KEYS = ("service", "service.name", "app", "application", "component", "logger", "program")
HOST_KEYS = ("host", "hostname", "host.name", "host.hostname", "pod", "kubernetes.pod.name")
TENANT_KEYS = ("tenant", "tenant_id", "tenant.id", "org", "organization.id")
ENV_KEYS = ("env", "environment", "deployment.environment", "service.environment")
TRACE_KEYS = ("trace_id", "traceId", "trace.id", "traceid", "dd.trace_id")
SPAN_KEYS = ("span_id", "spanId", "span.id", "spanid", "dd.span_id")
EVENT_ID_KEYS = ("event_id", "eventId", "event.id")
METRIC_NAME_KEYS = ("name", "metric", "metric_name", "__name__", "metric.name")
METRIC_VALUE_KEYS = ("value", "val", "gauge", "count", "metric.value")
METRIC_LABEL_KEYS = ("labels", "tags", "dimensions", "attributes")
ACTOR_KEYS = ("actor", "user", "username", "user.name", "principal", "subject")
SOURCE_IP_KEYS = ("source_ip", "src_ip", "ip", "client_ip", "source.ip", "client.ip", "remote_addr")
OUTCOME_KEYS = ("outcome", "result", "status", "event.outcome")

SEVERITY_BY_NAME = {
    "trace": 1, "debug": 5, "dbg": 5, "info": 9, "information": 9, "informational": 9, "notice": 10,
    "warn": 13, "warning": 13, "error": 17, "err": 17, "critical": 21, "crit": 21, "fatal": 21,
    "alert": 22, "emerg": 23, "emergency": 23, "panic": 23,
}
SEVERITY_TEXT = ((21, "FATAL"), (17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG"), (1, "TRACE"))
OUTCOMES = {
    "success": "success", "succeeded": "success", "ok": "success", "allowed": "success", "allow": "success",
    "accepted": "success", "accept": "success", "pass": "success", "granted": "success",
    "failure": "failure", "failed": "failure", "fail": "failure", "denied": "failure", "deny": "failure",
    "rejected": "failure", "reject": "failure", "error": "failure", "blocked": "failure",
}

# Event times further than this from the observed time are not trusted.
MAX_FUTURE_S = 24 * 3600.0
MIN_EPOCH_S = 946684800.0  # 2000-01-01


def flatten(obj: dict, prefix: str = "", out: dict | None = None) -> dict:
    """Nested objects become dotted keys: {"log": {"level": "x"}} -> {"log.level": "x"}."""
    if out is None:
        out = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if type(v) is dict:
            flatten(v, key + ".", out)
        else:
            out[key] = v
    return out


def _pop_first(d: dict, keys: tuple[str, ...]):
    for k in keys:
        if k in d:
            return d.pop(k)
    return None


def epoch_seconds(value: float) -> float:
    """Epoch seconds from a number in s, ms, µs or ns, told apart by magnitude."""
    v = float(value)
    a = abs(v)
    if a >= 1e17:
        return v / 1e9
    if a >= 1e14:
        return v / 1e6
    if a >= 1e11:
        return v / 1e3
    return v


def parse_time(value) -> float:
    """UTC epoch seconds from ISO 8601 text (with or without zone; naive = UTC) or an epoch number."""
    if type(value) in (int, float):
        return epoch_seconds(value)
    if type(value) is not str or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return epoch_seconds(float(text))
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def event_time(raw_value, observed: float, attributes: dict) -> float:
    """The event time, or the observed time with a flag when the given one is missing,
    unreadable, absurd or in the future. Never silently shifted."""
    if raw_value is None:
        return observed
    try:
        ts = parse_time(raw_value)
    except (ValueError, OverflowError, OSError):
        attributes["sluice.ts_flag"] = "unparsable"
        attributes["sluice.original_ts"] = str(raw_value)[:64]
        return observed
    if ts > observed + MAX_FUTURE_S or ts < MIN_EPOCH_S:
        attributes["sluice.ts_flag"] = "future" if ts > observed else "out_of_range"
        attributes["sluice.original_ts"] = str(raw_value)[:64]
        return observed
    return ts


def severity(raw_value) -> tuple[int, str]:
    """(OpenTelemetry severity number, text) from a level name or number."""
    if raw_value is None:
        return 9, "INFO"
    if type(raw_value) is int and 1 <= raw_value <= 24:
        number = raw_value
    else:
        number = SEVERITY_BY_NAME.get(str(raw_value).strip().lower(), 0)
        if number == 0:
            return 0, str(raw_value).upper()[:32] or "UNSPECIFIED"
    for low, text in SEVERITY_TEXT:
        if number >= low:
            return number, text
    return number, "UNSPECIFIED"


def stable_event_id(topic: str, partition: int, offset: int) -> str:
    """A UUID-shaped id derived from source coordinates, so a replay yields the same id."""
    h = hashlib.blake2b(f"{topic}/{partition}/{offset}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{h[16:20]}-{h[20:]}"


def _text(v) -> str:
    if type(v) is str:
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return ""
    if type(v) in (list, tuple):
        return ",".join(_text(x) for x in v)
    return str(v)


def _common(d: dict, observed: float, coords: tuple[str, int, int]) -> dict:
    attributes: dict[str, str] = {}
    eid = _pop_first(d, EVENT_ID_KEYS)
    if type(eid) is not str or len(eid) != 36:
        eid = stable_event_id(*coords)
    ts = event_time(_pop_first(d, TIME_KEYS), observed, attributes)
    return {
        "event_id": eid,
        "ts": ts,
        "observed_ts": observed,
        "tenant": _text(_pop_first(d, TENANT_KEYS) or "default"),
        "service": _text(_pop_first(d, SERVICE_KEYS) or "unknown"),
        "env": _text(_pop_first(d, ENV_KEYS) or ""),
        "host": _text(_pop_first(d, HOST_KEYS) or ""),
        "attributes": attributes,
    }


def _rest_into(attributes: dict, d: dict) -> None:
    for k, v in d.items():
        attributes[k] = _text(v)


def normalize_log(d: dict, observed: float, coords: tuple[str, int, int]) -> dict:
    ev = _common(d, observed, coords)
    number, text = severity(_pop_first(d, LEVEL_KEYS))
    ev["kind"] = "log"
    ev["severity_number"] = number
    ev["severity_text"] = text
    ev["message"] = _text(_pop_first(d, MESSAGE_KEYS) or "")
    ev["trace_id"] = _text(_pop_first(d, TRACE_KEYS) or "")
    ev["span_id"] = _text(_pop_first(d, SPAN_KEYS) or "")
    d.pop("kind", None)
    _rest_into(ev["attributes"], d)
    return ev


def normalize_metric(d: dict, observed: float, coords: tuple[str, int, int]) -> dict:
    labels = _pop_first(d, METRIC_LABEL_KEYS)
    if type(labels) is dict:
        labels = {k: _text(v) for k, v in flatten(labels).items()}
    else:
        # Labels may also have arrived flattened (labels.x / tags.x).
        labels = {}
        for prefix in ("labels.", "tags.", "dimensions.", "attributes."):
            for k in [k for k in d if k.startswith(prefix)]:
                labels[k[len(prefix):]] = _text(d.pop(k))
    ev = _common(d, observed, coords)
    name = _pop_first(d, METRIC_NAME_KEYS)
    if type(name) is not str or not name:
        raise DecodeError("schema_violation", "metric sample has no name")
    value = _pop_first(d, METRIC_VALUE_KEYS)
    if type(value) not in (int, float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise DecodeError("schema_violation", f"metric {name!r} has no numeric value") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise DecodeError("schema_violation", f"metric {name!r} value is not finite")
    mtype = d.pop("type", "gauge")
    ev["kind"] = "metric"
    ev["name"] = name
    ev["type"] = mtype if mtype in ("gauge", "counter", "histogram", "summary") else "gauge"
    ev["value"] = float(value)
    ev["unit"] = _text(d.pop("unit", ""))
    ev["labels"] = labels
    d.pop("kind", None)
    _rest_into(ev["attributes"], d)
    return ev


def normalize_security(d: dict, observed: float, coords: tuple[str, int, int]) -> dict:
    ev = _common(d, observed, coords)
    number, text = severity(_pop_first(d, LEVEL_KEYS))
    outcome = _pop_first(d, OUTCOME_KEYS)
    ev["kind"] = "security"
    ev["category"] = _text(d.pop("category", None) or d.pop("event.category", None) or "other")
    ev["action"] = _text(d.pop("action", None) or d.pop("event.action", None) or "")
    ev["outcome"] = OUTCOMES.get(str(outcome).lower(), "unknown") if outcome is not None else "unknown"
    ev["actor"] = _text(_pop_first(d, ACTOR_KEYS) or "")
    ev["target"] = _text(d.pop("target", None) or d.pop("target.user.name", None) or "")
    ev["source_ip"] = _text(_pop_first(d, SOURCE_IP_KEYS) or "")
    ev["severity_number"] = number
    ev["severity_text"] = text
    ev["message"] = _text(_pop_first(d, MESSAGE_KEYS) or "")
    d.pop("kind", None)
    _rest_into(ev["attributes"], d)
    return ev


NORMALIZERS = {"logs": normalize_log, "metrics": normalize_metric, "security": normalize_security}


def normalize(d: dict, stream: str, observed: float, coords: tuple[str, int, int]) -> dict:
    """Canonical event for `stream` (logs/metrics/security) from a decoded record.
    Mutates `d`. Raises DecodeError with a dead-letter reason."""
    if any(type(v) is dict for v in d.values()):
        d = flatten(d)
    return NORMALIZERS[stream](d, observed, coords)
