"""The hot path: one JSON object on the logs stream -> one canonical log event; and
the same road for JSON metric samples and security events (JsonMetrics, JsonSecurity).

Same result as `Normalizer.log` (normalize.py), written for the interpreter's sake:
records of one emitter share a key tuple, so the slots of each key tuple are
resolved once into an `itemgetter` that reads every canonical field in one C call
(a sentinel key, which no JSON key can equal, stands in for absent fields), and the
remaining keys become the attributes in place. Every line here runs ~100,000 times
a second per core; keep it that way.

The same method in C (`_jsonlog.c`, built when a compiler is at hand) takes over on
each instance unless SLUICE_PURE_PYTHON=1 (or `accelerate=False`): the same event, the
same exceptions, the same caches, about 3x faster. This code stays the reference and
the fallback; the C code calls back into the helpers below for every rare case.

JsonMetrics.event and JsonSecurity.event give exactly what Normalizer.metric and
Normalizer.security give (their Python form is that very code); their C form is the
same `Events` type bound to the kind, sharing its shape learning, time and id readings.
"""

from __future__ import annotations

from operator import itemgetter

import orjson

from schemas.ids import stable_event_id
from streams.ingest import accel
from streams.ingest.normalize import (
    _LOG,
    _LOG_ALIASES,
    _METRIC,
    _METRIC_ALIASES,
    _SECURITY,
    _SECURITY_ALIASES,
    _SEVERITY_FAST,
    _UUID,
    METRIC_TYPES,
    OUTCOMES,
    Normalizer,
    _plan,
    _severity_of,
    _text,
    _trace_hex,
    flatten,
)
from streams.ingest.timeparse import MAX_FUTURE_S, MIN_EPOCH_S, TimeParser, epoch_seconds

_jsonlog = accel.load("_jsonlog")  # None when not built: the Python path runs

_ABSENT = object()  # never equal to a JSON key (always a str)
_PLAN_LIMIT = 10_000
_MAX_OFFSET = 0xFFFFFFFFFFFF
_dumps = orjson.dumps


def _log_plan(keys: tuple) -> tuple | None:
    if "resourceLogs" in keys or "resourceMetrics" in keys:
        return None  # an OTLP batch: the caller takes the generic path
    slots = _plan(keys, _LOG_ALIASES, len(_LOG))
    present = tuple(k for k in slots if k is not None)
    # (getter, keys to drop, the key of each slot or None): the C code reads the slots
    return itemgetter(*[_ABSENT if k is None else k for k in slots]), (_ABSENT, *present), slots


def _foreign_id(d: dict, eid, topic: str, partition: int, offset: int, index: int = 0) -> str:
    """An event id that is not a UUID is kept as an attribute; the stable id replaces it."""
    d["sluice.source_event_id"] = _text(eid)[:128]
    return stable_event_id(topic, partition, offset, index)


def accelerated() -> bool:
    """Whether new JsonLogs instances take the C path."""
    return _jsonlog is not None and accel.wanted()


def _use_c(accelerate: bool | None) -> bool:
    """accelerate: None = the C path when it is built and SLUICE_PURE_PYTHON is not 1."""
    if accelerate is None:
        return accelerated()
    if accelerate and _jsonlog is None:
        raise ImportError("streams.ingest._jsonlog is not built")
    return accelerate


class JsonLogs:
    def __init__(self, times: TimeParser, accelerate: bool | None = None):
        """accelerate: None = the C path when it is built and SLUICE_PURE_PYTHON is not 1."""
        self.times = times
        self.plans: dict[tuple, tuple | None] = {}
        self.prefixes: dict[tuple[str, int], str] = {}
        self.accelerated = accelerate = _use_c(accelerate)
        self.fields = None
        if accelerate:
            self._bind_c()
        # JSON metric samples and security events take the same road: kinds[kind].event
        self.kinds = {"metric": JsonMetrics(times, accelerate), "security": JsonSecurity(times, accelerate)}

    def _bind_c(self) -> None:
        # `event` in C, bound to the caches above (cleared, never replaced); the method
        # below stays reachable as JsonLogs.event(self, ...). `fields`: the same, but an
        # event it builds in C is the tuple of its dict's values (_jsonlog.LOG_FIELDS the
        # keys): the batch loop (_hotloop.c) enriches and serializes it with no dict built
        # (and builds the dict only to keep it, when its caller keeps the events).
        self.event = _jsonlog.Events(self, _HELPERS)
        self.fields = _jsonlog.Events(self, _HELPERS, "log", True)

    def __getstate__(self) -> dict:
        # the C objects are bound to `self`
        return {k: v for k, v in self.__dict__.items() if k not in ("event", "fields")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.fields = None
        if self.accelerated:
            self._bind_c()

    def _new_plan(self, keys: tuple) -> tuple | None:
        """The plan of a key tuple seen for the first time."""
        if len(self.plans) > _PLAN_LIMIT:
            self.plans.clear()
        plan = self.plans[keys] = _log_plan(keys)
        return plan

    def _fresh_id(self, topic: str, partition: int, offset: int) -> str:
        """The id of a record without one when its partition has no prefix yet, or its
        offset is beyond 48 bits."""
        eid = stable_event_id(topic, partition, offset)
        # beyond 48 bits the id is a hash, not the prefix and the offset
        if offset <= _MAX_OFFSET and self.prefixes.get((topic, partition)) is None:
            self.prefixes[(topic, partition)] = eid[:24]
        return eid

    def event(self, d: dict, observed: float, topic: str, partition: int, offset: int, flat: bool,
              attributes: dict | None = None, index: int = 0) -> dict | None:
        """The log event of `d` (consumed), or None when `d` is not a plain log record.
        Text decoders use it too: `attributes` are theirs (final), `index` the event's
        place in its record."""
        if not flat:
            for v in d.values():
                if type(v) is dict:
                    d = flatten(d)
                    break
        keys = tuple(d)
        plan = self.plans.get(keys, _ABSENT)
        if plan is _ABSENT:
            plan = self._new_plan(keys)
        if plan is None:
            return None
        getter, drop, _ = plan
        d[_ABSENT] = None
        eid, raw_ts, tenant, service, env, host, level, sevnum, message, trace, span = getter(d)
        for k in drop:
            del d[k]
        for k, v in d.items():
            tv = type(v)
            if tv is not str:
                d[k] = str(v) if tv is int else _dumps(v).decode() if tv is float and v - v == 0.0 else _text(v)
        if "kind" in d:
            del d["kind"]
        if attributes:
            d.update(attributes)
        if eid is None:
            if index:
                eid = stable_event_id(topic, partition, offset, index)
            else:
                prefix = self.prefixes.get((topic, partition))
                if prefix is None or offset > _MAX_OFFSET:
                    eid = self._fresh_id(topic, partition, offset)
                else:
                    eid = prefix + offset.to_bytes(6, "big").hex()
        elif type(eid) is not str or len(eid) != 36 or not _UUID.match(eid):
            eid = _foreign_id(d, eid, topic, partition, offset, index or 0)
        else:
            eid = eid.lower()
        ts = None
        if type(raw_ts) is str:
            # RFC 3339 with a fraction and Z from the per-second cache
            if raw_ts[-1:] == "Z" and raw_ts[19:20] == ".":
                base = self.times.iso_cache.get(raw_ts[:19])
                if base is not None and raw_ts[20:-1].isdecimal():  # the digits float() reads
                    ts = base + float(raw_ts[19:-1])
            elif raw_ts.isdigit() and raw_ts.isascii():
                ts = epoch_seconds(float(raw_ts))  # OpenTelemetry's timeUnixNano; as event_time() reads it
            if ts is not None and not (MIN_EPOCH_S <= ts <= observed + MAX_FUTURE_S):
                ts = None
        elif type(raw_ts) is float and MIN_EPOCH_S <= raw_ts <= observed + MAX_FUTURE_S:
            ts = raw_ts
        if ts is None:
            ts = observed if raw_ts is None else self.times.event_time(raw_ts, observed, d)
        sev = _SEVERITY_FAST.get(level) if sevnum is None and type(level) is str else None
        if sev is None:
            sev = _severity_of(level, sevnum)
        return {
            "event_id": eid, "ts": ts, "observed_ts": observed,
            "tenant": tenant if type(tenant) is str and tenant else "default" if tenant is None or tenant == "" else _text(tenant),
            "service": service if type(service) is str and service else "unknown" if service is None or service == "" else _text(service),
            "env": env if type(env) is str else "" if env is None else _text(env),
            "host": host if type(host) is str else "" if host is None else _text(host),
            "attributes": d, "kind": "log", "severity_number": sev[0], "severity_text": sev[1],
            "message": message if type(message) is str else "" if message is None else _text(message),
            "trace_id": trace if type(trace) is str and trace.islower() else "" if trace is None or trace == "" else _trace_hex(trace, 32),
            "span_id": span if type(span) is str and span.islower() else "" if span is None or span == "" else _trace_hex(span, 16),
        }


# What the C path calls back into (see _jsonlog.c), in the order it takes them.
_HELPERS = (JsonLogs.event, _text, _trace_hex, _severity_of, stable_event_id, _foreign_id, _dumps, _SEVERITY_FAST,
            float(MIN_EPOCH_S), float(MAX_FUTURE_S), _MAX_OFFSET)


# -- metric samples and security events ------------------------------------------------------


class _JsonKind:
    """The events of one kind but logs, from JSON objects or a decoder's fields: `event`
    gives exactly what the Normalizer gives (it is the Normalizer in the Python form),
    its C form is `Events` bound to the kind. Caches as JsonLogs has them (plans,
    prefixes), the C form's own."""

    kind = ""
    _slots: tuple = ()
    _aliases: dict = {}

    def __init__(self, times: TimeParser, accelerate: bool | None = None):
        """accelerate: None = the C path when it is built and SLUICE_PURE_PYTHON is not 1."""
        self.times = times
        self.normalizer = Normalizer(times)
        self.plans: dict[tuple, tuple] = {}
        self.prefixes: dict[tuple[str, int], str] = {}
        self.accelerated = accelerate = _use_c(accelerate)
        self.fields = None
        if accelerate:
            self._bind_c()

    def _bind_c(self) -> None:
        # as JsonLogs._bind_c: `fields` builds the tuple of the event dict's values
        # (_jsonlog.METRIC_FIELDS or SECURITY_FIELDS the keys)
        helpers = (type(self).event, *_HELPERS[1:], *_KIND_HELPERS)
        self.event = _jsonlog.Events(self, helpers, self.kind)
        self.fields = _jsonlog.Events(self, helpers, self.kind, True)

    def __getstate__(self) -> dict:
        # the C objects are bound to `self`
        return {k: v for k, v in self.__dict__.items() if k not in ("event", "fields")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.fields = None
        if self.accelerated:
            self._bind_c()

    def _new_plan(self, keys: tuple) -> tuple:
        """The slots of a key tuple seen for the first time (the C form's plan: (_, _, slots))."""
        if len(self.plans) > _PLAN_LIMIT:
            self.plans.clear()
        plan = self.plans[keys] = (None, None, _plan(keys, self._aliases, len(self._slots)))
        return plan

    _fresh_id = JsonLogs._fresh_id


class JsonMetrics(_JsonKind):
    kind = "metric"
    _slots = _METRIC
    _aliases = _METRIC_ALIASES

    def event(self, d: dict, observed: float, topic: str, partition: int, offset: int,
              attributes: dict | None = None, index: int = 0, labels: dict | None = None) -> dict:
        """Normalizer.metric(d, observed, (topic, partition, offset, index), attributes, labels)"""
        return self.normalizer.metric(d, observed, (topic, partition, offset, index), attributes, labels)


class JsonSecurity(_JsonKind):
    kind = "security"
    _slots = _SECURITY
    _aliases = _SECURITY_ALIASES

    def event(self, d: dict, observed: float, topic: str, partition: int, offset: int,
              attributes: dict | None = None, index: int = 0) -> dict:
        """Normalizer.security(d, observed, (topic, partition, offset, index), attributes)"""
        return self.normalizer.security(d, observed, (topic, partition, offset, index), attributes)


# The expressions of Normalizer.security and Normalizer.metric that the C form leaves to
# Python: for a category that is not an ASCII str, an outcome or a metric type that is
# not already a key of its table.
def _category(category) -> str:
    if type(category) in (list, tuple):
        category = category[0] if category else None
    return _text(category).lower() if category not in (None, "") else "other"


def _outcome(outcome) -> str:
    return OUTCOMES.get(_text(outcome).strip().lower(), "unknown")


def _metric_type(mtype) -> str:
    return METRIC_TYPES.get(_text(mtype).lower(), "gauge")


# What the C form of the other kinds takes after _HELPERS, in this order.
_KIND_HELPERS = (_category, _outcome, _metric_type, OUTCOMES, METRIC_TYPES)
