"""The hot path: one JSON object on the logs stream -> one canonical log event.

Same result as `Normalizer.log` (normalize.py), written for the interpreter's sake:
records of one emitter share a key tuple, so the slots of each key tuple are
resolved once into an `itemgetter` that reads every canonical field in one C call
(a sentinel key, which no JSON key can equal, stands in for absent fields), and the
remaining keys become the attributes in place. Every line here runs ~100,000 times
a second per core; keep it that way.
"""

from __future__ import annotations

from operator import itemgetter

import orjson

from schemas.ids import stable_event_id
from streams.ingest.normalize import (
    _LOG,
    _LOG_ALIASES,
    _SEVERITY_FAST,
    _UUID,
    _plan,
    _severity_of,
    _text,
    _trace_hex,
    flatten,
)
from streams.ingest.timeparse import MAX_FUTURE_S, MIN_EPOCH_S, TimeParser, epoch_seconds

_ABSENT = object()  # never equal to a JSON key (always a str)
_PLAN_LIMIT = 10_000
_TS_CACHE_LIMIT = 100_000
_MAX_OFFSET = 0xFFFFFFFFFFFF
_dumps = orjson.dumps


def _log_plan(keys: tuple) -> tuple | None:
    if "resourceLogs" in keys or "resourceMetrics" in keys:
        return None  # an OTLP batch: the caller takes the generic path
    slots = _plan(keys, _LOG_ALIASES, len(_LOG))
    present = tuple(k for k in slots if k is not None)
    return itemgetter(*[_ABSENT if k is None else k for k in slots]), (_ABSENT, *present)


class JsonLogs:
    def __init__(self, times: TimeParser):
        self.times = times
        self.plans: dict[tuple, tuple | None] = {}
        self.ts_cache: dict[str, float] = {}
        self.prefixes: dict[tuple[str, int], str] = {}

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
            if len(self.plans) > _PLAN_LIMIT:
                self.plans.clear()
            plan = self.plans[keys] = _log_plan(keys)
        if plan is None:
            return None
        getter, drop = plan
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
        if index:
            if eid is not None and (type(eid) is not str or len(eid) != 36 or not _UUID.match(eid)):
                d["sluice.source_event_id"] = _text(eid)[:128]
                eid = None
            eid = stable_event_id(topic, partition, offset, index) if eid is None else eid.lower()
        elif eid is None:
            prefix = self.prefixes.get((topic, partition))
            if prefix is None or offset > _MAX_OFFSET:
                eid = stable_event_id(topic, partition, offset)
                if prefix is None:
                    self.prefixes[(topic, partition)] = eid[:24]
            else:
                eid = prefix + offset.to_bytes(6, "big").hex()
        elif type(eid) is not str or len(eid) != 36 or not _UUID.match(eid):
            d["sluice.source_event_id"] = _text(eid)[:128]
            eid = stable_event_id(topic, partition, offset)
        else:
            eid = eid.lower()
        ts = None
        if type(raw_ts) is str:
            # Records of a batch repeat their timestamps (per millisecond): remember
            # them; else RFC 3339 with a fraction and Z from the per-second cache.
            ts = self.ts_cache.get(raw_ts)
            if ts is None and raw_ts[-1:] == "Z" and raw_ts[19:20] == ".":
                base = self.times.iso_cache.get(raw_ts[:19])
                if base is not None and raw_ts[20:-1].isdigit():
                    ts = base + float(raw_ts[19:-1])
                    if len(self.ts_cache) > _TS_CACHE_LIMIT:
                        self.ts_cache.clear()
                    self.ts_cache[raw_ts] = ts
            elif ts is None and raw_ts.isdigit() and raw_ts.isascii():
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
