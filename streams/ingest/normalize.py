"""Turn a decoded record (a dict of whatever field names the agent used) into a
canonical event dict (schemas/events.py).

Field aliases cover the shapes agents really send: flat JSON, nested/ECS-style
(`log.level`, `service.name`), OpenTelemetry-style (`severityText`, `traceId`).
Whatever is not a canonical field is kept, flattened, in `attributes`.

This is the hot path of ingest, so each record is read in one pass over its keys
(one dict lookup per key) instead of probing every alias of every field. When two
aliases of one field are present, the earlier alias in the tuples below wins and
the other is kept as an attribute.
"""

from __future__ import annotations

import re

import orjson

from schemas.errors import DecodeError
from schemas.ids import stable_event_id
from streams.ingest.timeparse import MAX_FUTURE_S, MIN_EPOCH_S, TimeParser, epoch_seconds, parse_time

__all__ = ["Normalizer", "normalize", "stable_event_id", "epoch_seconds", "parse_time", "severity", "flatten",
           "MAX_FUTURE_S", "MIN_EPOCH_S"]

EVENT_ID_KEYS = ("event_id", "eventId", "event.id")
TIME_KEYS = ("ts", "timestamp", "@timestamp", "time", "timeUnixNano", "eventTime", "event_time", "datetime",
             "observedTimeUnixNano", "date", "t", "_time", "event.created")
TENANT_KEYS = ("tenant", "tenant_id", "tenant.id", "tenantId", "org", "organization.id")
SERVICE_KEYS = ("service", "service.name", "resource.service.name", "service_name", "serviceName", "app",
                "application", "app.name", "component", "logger", "logger_name", "program", "syslog.appname")
ENV_KEYS = ("env", "environment", "deployment.environment", "deployment.environment.name",
            "resource.deployment.environment", "service.environment")
HOST_KEYS = ("host", "hostname", "host.name", "host.hostname", "resource.host.name", "pod",
             "kubernetes.pod.name", "k8s.pod.name", "syslog.hostname")
LEVEL_KEYS = ("severity_text", "level", "severity", "severityText", "lvl", "loglevel", "log.level", "levelname",
              "log_level")
SEVERITY_NUMBER_KEYS = ("severity_number", "severityNumber")
MESSAGE_KEYS = ("message", "msg", "log", "text", "body", "event.original", "message.text", "short_message")
TRACE_KEYS = ("trace_id", "traceId", "trace.id", "traceid", "dd.trace_id", "trace_id_hex", "traceID")
SPAN_KEYS = ("span_id", "spanId", "span.id", "spanid", "dd.span_id", "spanID")
METRIC_NAME_KEYS = ("name", "metric", "metric_name", "__name__", "metric.name")
METRIC_VALUE_KEYS = ("value", "val", "gauge", "count", "metric.value")
METRIC_TYPE_KEYS = ("type", "metric_type", "metric.type")
UNIT_KEYS = ("unit", "metric.unit")
ACTOR_KEYS = ("actor", "user", "username", "user.name", "principal", "subject", "actor.name", "suser")
TARGET_KEYS = ("target", "target.user.name", "user.target.name", "duser", "resource")
SOURCE_IP_KEYS = ("source_ip", "src_ip", "ip", "client_ip", "source.ip", "client.ip", "remote_addr",
                  "source.address", "src")
OUTCOME_KEYS = ("outcome", "result", "event.outcome", "status")
CATEGORY_KEYS = ("category", "event.category")
ACTION_KEYS = ("action", "event.action")

# Slots shared by all kinds, then per-kind slots.
_COMMON = (EVENT_ID_KEYS, TIME_KEYS, TENANT_KEYS, SERVICE_KEYS, ENV_KEYS, HOST_KEYS)
# pino and bunyan call the application "name"; for a metric, "name" is the metric's.
_LOG = (EVENT_ID_KEYS, TIME_KEYS, TENANT_KEYS, SERVICE_KEYS + ("name",), ENV_KEYS, HOST_KEYS,
        LEVEL_KEYS, SEVERITY_NUMBER_KEYS, MESSAGE_KEYS, TRACE_KEYS, SPAN_KEYS)
_SECURITY = _COMMON + (LEVEL_KEYS, SEVERITY_NUMBER_KEYS, MESSAGE_KEYS, OUTCOME_KEYS, CATEGORY_KEYS,
                       ACTION_KEYS, ACTOR_KEYS, TARGET_KEYS, SOURCE_IP_KEYS)
# A metric's "status"/"user"/"ip" are labels or attributes, never canonical fields.
_METRIC = _COMMON + (METRIC_NAME_KEYS, METRIC_VALUE_KEYS, METRIC_TYPE_KEYS, UNIT_KEYS)
EID, TS, TENANT, SERVICE, ENV, HOST = range(6)
LEVEL, SEVNUM, MESSAGE = 6, 7, 8
TRACE, SPAN = 9, 10
OUTCOME, CATEGORY, ACTION, ACTOR, TARGET, SOURCE_IP = 9, 10, 11, 12, 13, 14
NAME, VALUE, MTYPE, UNIT = 6, 7, 8, 9
NO_SLOT = 255


def _alias_table(slots: tuple[tuple[str, ...], ...]) -> dict[str, tuple[int, int]]:
    table: dict[str, tuple[int, int]] = {}
    for slot, keys in enumerate(slots):
        for prio, key in enumerate(keys):
            table.setdefault(key, (slot, prio))
    return table


_LOG_ALIASES = _alias_table(_LOG)
_SECURITY_ALIASES = _alias_table(_SECURITY)
_METRIC_ALIASES = _alias_table(_METRIC)
METRIC_LABEL_KEYS = ("labels", "tags", "dimensions", "attributes")

SEVERITY_BY_NAME = {
    "trace": 1, "debug": 5, "dbg": 5, "info": 9, "information": 9, "informational": 9, "notice": 10,
    "warn": 13, "warning": 13, "error": 17, "err": 17, "critical": 21, "crit": 21, "fatal": 21,
    "alert": 22, "emerg": 23, "emergency": 23, "panic": 23, "severe": 17, "fine": 5, "finer": 3,
    "finest": 1, "verbose": 3, "i": 9, "w": 13, "e": 17, "d": 5, "f": 21,
}
# pino / bunyan numeric levels, the common case of an integer `level`
PINO_LEVELS = {10: 1, 20: 5, 30: 9, 40: 13, 50: 17, 60: 21}
SEVERITY_TEXT = ((21, "FATAL"), (17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG"), (1, "TRACE"))
OUTCOMES = {
    "success": "success", "succeeded": "success", "ok": "success", "allowed": "success", "allow": "success",
    "accepted": "success", "accept": "success", "pass": "success", "granted": "success", "true": "success",
    "failure": "failure", "failed": "failure", "fail": "failure", "denied": "failure", "deny": "failure",
    "rejected": "failure", "reject": "failure", "error": "failure", "blocked": "failure", "false": "failure",
}
METRIC_TYPES = {"gauge": "gauge", "counter": "counter", "histogram": "histogram", "summary": "summary",
                "sum": "counter", "count": "counter", "c": "counter", "g": "gauge", "h": "histogram",
                "ms": "histogram", "timer": "histogram", "distribution": "histogram"}

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX = re.compile(r"[0-9a-fA-F]+\Z")


def _number_text(number: int) -> str:
    for low, text in SEVERITY_TEXT:
        if number >= low:
            return text
    return "UNSPECIFIED"


def _severity_fast_table() -> dict:
    table: dict = {}
    for name, number in SEVERITY_BY_NAME.items():
        for spelling in (name, name.upper(), name.capitalize()):
            table[spelling] = (number, _number_text(number))
    for level, number in PINO_LEVELS.items():
        table[level] = (number, _number_text(number))
    return table


_SEVERITY_FAST = _severity_fast_table()
_INFO = (9, "INFO")


_HASHABLE = (str, int, float, bool)  # a level that is a list or an object is read as its text


def severity(raw_value) -> tuple[int, str]:
    """(OpenTelemetry severity number, text) from a level name or number.

    Integers 10..60 in steps of 10 are pino/bunyan levels; other integers 1..24 are
    OpenTelemetry severity numbers; an unknown name keeps its text with number 0."""
    if raw_value is None:
        return _INFO
    hit = _SEVERITY_FAST.get(raw_value) if type(raw_value) in _HASHABLE else None
    if hit is not None:
        return hit
    if type(raw_value) is int and 1 <= raw_value <= 24:
        return raw_value, _number_text(raw_value)
    text = _text(raw_value).strip()
    number = SEVERITY_BY_NAME.get(text.lower(), 0)
    if number == 0 and text.isdigit() and 1 <= int(text) <= 24:
        number = int(text)
    if number == 0:
        return 0, text.upper()[:32] or "UNSPECIFIED"
    return number, _number_text(number)


def _text(v) -> str:
    """Attribute values are strings: scalars as their JSON text, lists joined by commas."""
    if type(v) is str:
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return ""
    if type(v) is int:
        return str(v)
    if type(v) is float:
        return orjson.dumps(v).decode() if v - v == 0.0 else repr(v)
    if type(v) in (list, tuple):
        if all(type(x) in (str, int, float, bool) for x in v):
            return ",".join(_text(x) for x in v)
        return orjson.dumps(v, default=str).decode()
    if type(v) is dict:
        return orjson.dumps(v, default=str).decode()
    return str(v)


def flatten(obj: dict, prefix: str = "", out: dict | None = None) -> dict:
    """Nested objects become dotted keys: {"log": {"level": "x"}} -> {"log.level": "x"},
    except a top-level "attributes" object, whose keys are kept as they are. An empty
    object stays a value."""
    if out is None:
        out = {}
    if prefix:
        _nest(obj, prefix, out)
        return out
    for k, v in obj.items():  # the top level needs no prefix: spare the string building
        if type(v) is dict and v:
            # OpenTelemetry-style records nest their attributes: they are attributes, not "attributes.*"
            _nest(v, "" if k == "attributes" else k + ".", out)
        else:
            out[k] = v
    return out


def _nest(obj: dict, prefix: str, out: dict) -> None:
    # Two levels per call: ECS records nest mostly two deep, and calls are what costs here.
    for k, v in obj.items():
        if type(v) is dict and v:
            p = prefix + k + "."
            for k2, v2 in v.items():
                if type(v2) is dict and v2:
                    _nest(v2, p + k2 + ".", out)
                else:
                    out[p + k2] = v2
        else:
            out[prefix + k if prefix else k] = v


def _trace_hex(value, width: int) -> str:
    """W3C ids are lowercase hex; decimal ids (Datadog) are converted, so that a
    16-19 digit decimal id is neither lost nor mistaken for a card number."""
    text = value if type(value) is str else _text(value)
    if text.isdigit() and len(text) <= 39:
        number = int(text)
        if number < 16 ** width:
            return f"{number:0{width}x}"
    return text.lower() if _HEX.match(text) else text


def _plan(keys: tuple, aliases: dict, nslots: int) -> tuple:
    """For one shape of record (its key tuple): the key that fills each slot, or None.
    The best alias wins; the other aliases of a slot stay behind as attributes."""
    best: list = [None] * nslots
    prio = [NO_SLOT] * nslots
    for k in keys:
        a = aliases.get(k)
        if a is not None and a[1] < prio[a[0]]:
            best[a[0]] = k
            prio[a[0]] = a[1]
    return tuple(best)


class _Plans:
    """Plans per key tuple. Records of one emitter share a shape, so a batch needs a
    handful; the cache is bounded for the odd emitter whose keys vary per record."""

    __slots__ = ("aliases", "nslots", "cache")

    def __init__(self, aliases: dict, nslots: int):
        self.aliases = aliases
        self.nslots = nslots
        self.cache: dict[tuple, tuple] = {}

    def plan(self, keys: tuple) -> tuple:
        if len(self.cache) > 10_000:
            self.cache.clear()
        plan = self.cache[keys] = _plan(keys, self.aliases, self.nslots)
        return plan

    def take(self, d: dict) -> list:
        """Pop the slot values out of `d` (a flat dict); what stays in `d` are attributes."""
        keys = tuple(d)
        plan = self.cache.get(keys)
        if plan is None:
            plan = self.plan(keys)
        pop = d.pop
        return [None if k is None else pop(k) for k in plan]


def _flat(d: dict) -> dict:
    """`d` itself when it holds no nested object, else a flattened copy."""
    for v in d.values():
        if type(v) is dict:
            return flatten(d)
    return d


def _attributes(d: dict, attributes: dict | None) -> dict:
    """The leftover fields as attributes (string values), plus the decoder's own."""
    for k, v in d.items():
        tv = type(v)
        if tv is not str:
            d[k] = str(v) if tv is int else _text(v)
    if attributes:
        d.update(attributes)
    if "kind" in d:
        del d["kind"]
    return d


class Normalizer:
    """Per-kind normalizers sharing one timestamp parser (time zone, caches, policy).

    coords = (topic, partition, offset, index) give the stable event id of a record
    that carries none. The dict passed in is consumed: its leftover keys become the
    event's attributes."""

    def __init__(self, times: TimeParser | None = None):
        self.times = times or TimeParser()
        self._log = _Plans(_LOG_ALIASES, len(_LOG))
        self._security = _Plans(_SECURITY_ALIASES, len(_SECURITY))
        self._metric = _Plans(_METRIC_ALIASES, len(_METRIC))

    def _head(self, vals: list, attributes: dict, observed: float, coords: tuple) -> tuple:
        eid = vals[EID]
        if eid is None or type(eid) is not str or len(eid) != 36 or not _UUID.match(eid):
            if eid is not None:
                attributes["sluice.source_event_id"] = _text(eid)[:128]
            eid = stable_event_id(*coords)
        else:
            eid = eid.lower()
        raw_ts = vals[TS]
        if raw_ts is None:
            ts = observed
        elif type(raw_ts) is float and MIN_EPOCH_S <= raw_ts <= observed + MAX_FUTURE_S:
            ts = raw_ts
        else:
            ts = self.times.event_time(raw_ts, observed, attributes)
        v = vals[TENANT]
        tenant = "default" if v is None or v == "" else (v if type(v) is str else _text(v))
        v = vals[SERVICE]
        service = "unknown" if v is None or v == "" else (v if type(v) is str else _text(v))
        v = vals[ENV]
        env = "" if v is None else (v if type(v) is str else _text(v))
        v = vals[HOST]
        host = "" if v is None else (v if type(v) is str else _text(v))
        return eid, ts, tenant, service, env, host

    def log(self, d: dict, observed: float, coords: tuple, attributes: dict | None = None) -> dict:
        d = _flat(d)
        vals = self._log.take(d)
        attrs = _attributes(d, attributes)
        eid, ts, tenant, service, env, host = self._head(vals, attrs, observed, coords)
        number, text = _severity_of(vals[LEVEL], vals[SEVNUM])
        v = vals[MESSAGE]
        v_trace, v_span = vals[TRACE], vals[SPAN]
        return {"event_id": eid, "ts": ts, "observed_ts": observed, "tenant": tenant, "service": service,
                "env": env, "host": host, "attributes": attrs, "kind": "log", "severity_number": number,
                "severity_text": text, "message": "" if v is None else (v if type(v) is str else _text(v)),
                "trace_id": "" if v_trace is None or v_trace == "" else _trace_hex(v_trace, 32),
                "span_id": "" if v_span is None or v_span == "" else _trace_hex(v_span, 16)}

    def security(self, d: dict, observed: float, coords: tuple, attributes: dict | None = None) -> dict:
        d = _flat(d)
        vals = self._security.take(d)
        attrs = _attributes(d, attributes)
        eid, ts, tenant, service, env, host = self._head(vals, attrs, observed, coords)
        category = vals[CATEGORY]
        if type(category) in (list, tuple):
            category = category[0] if category else None
        outcome = vals[OUTCOME]
        number, text = _severity_of(vals[LEVEL], vals[SEVNUM])
        v = vals[MESSAGE]
        return {
            "event_id": eid, "ts": ts, "observed_ts": observed, "tenant": tenant, "service": service, "env": env,
            "host": host, "attributes": attrs, "kind": "security",
            "category": _text(category).lower() if category not in (None, "") else "other",
            "action": _text(vals[ACTION]) if vals[ACTION] is not None else "",
            "outcome": OUTCOMES.get(_text(outcome).strip().lower(), "unknown") if outcome is not None else "unknown",
            "actor": _text(vals[ACTOR]) if vals[ACTOR] is not None else "",
            "target": _text(vals[TARGET]) if vals[TARGET] is not None else "",
            "source_ip": _text(vals[SOURCE_IP]) if vals[SOURCE_IP] is not None else "",
            "severity_number": number, "severity_text": text,
            "message": "" if v is None else (v if type(v) is str else _text(v)),
        }

    def metric(self, d: dict, observed: float, coords: tuple, attributes: dict | None = None,
               labels: dict | None = None) -> dict:
        if labels is None:
            labels = _pop_labels(d)
        d = _flat(d)
        vals = self._metric.take(d)
        name = vals[NAME]
        if type(name) is not str or not name:
            raise DecodeError("schema_violation", "metric sample has no name")
        value = vals[VALUE]
        if type(value) is not float:
            if type(value) is int:
                value = float(value)
            else:
                try:
                    value = float(value)
                except (TypeError, ValueError, OverflowError):
                    raise DecodeError("schema_violation", f"metric {name[:200]!r} has no numeric value") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise DecodeError("non_finite_value", f"metric {name[:200]!r} value is not finite")
        attrs = _attributes(d, attributes)
        eid, ts, tenant, service, env, host = self._head(vals, attrs, observed, coords)
        mtype = vals[MTYPE]
        return {"event_id": eid, "ts": ts, "observed_ts": observed, "tenant": tenant, "service": service,
                "env": env, "host": host, "attributes": attrs, "kind": "metric", "name": name,
                "type": METRIC_TYPES.get(_text(mtype).lower(), "gauge") if mtype is not None else "gauge",
                "value": value, "unit": _text(vals[UNIT]) if vals[UNIT] is not None else "", "labels": labels}


def _pop_labels(d: dict) -> dict:
    for key in METRIC_LABEL_KEYS:
        if key in d and type(d[key]) is dict:
            return {k: _text(v) for k, v in flatten(d.pop(key)).items()}
    labels: dict[str, str] = {}
    # Labels may also have arrived flattened (labels.x / tags.x).
    for prefix in ("labels.", "tags.", "dimensions.", "attributes."):
        for k in [k for k in d if k.startswith(prefix)]:
            labels[k[len(prefix):]] = _text(d.pop(k))
    return labels


def _severity_of(level, number) -> tuple[int, str]:
    if number is not None:
        try:
            n = int(number)
        except (TypeError, ValueError):
            n = 0
        if 1 <= n <= 24:
            return n, _number_text(n)
    return severity(level)


_DEFAULT = Normalizer()
_BY_STREAM = {"logs": _DEFAULT.log, "metrics": _DEFAULT.metric, "security": _DEFAULT.security}


def normalize(d: dict, stream: str, observed: float, coords: tuple) -> dict:
    """Canonical event for `stream` (logs/metrics/security) from a decoded record, with
    UTC for zone-less times. Mutates `d`. Raises DecodeError with a dead-letter reason."""
    if len(coords) == 3:
        coords = (*coords, 0)
    return _BY_STREAM[stream](d, observed, coords)
