"""OTLP/JSON as the OpenTelemetry Collector's Kafka exporter writes it with the
`otlp_json` encoding: one ExportLogsServiceRequest (`resourceLogs`) or
ExportMetricsServiceRequest (`resourceMetrics`) per record, many events each.

- Attributes are `[{"key": k, "value": {"stringValue" | "intValue" | "doubleValue" |
  "boolValue" | "arrayValue" | "kvlistValue" | "bytesValue": ...}}]`; int64 values and
  `*UnixNano` times are JSON strings.
- Resource attributes give service (`service.name`), host (`host.name`), env
  (`deployment.environment[.name]`) and tenant (`tenant.id`); the others are kept as
  `resource.<key>` attributes. The scope is kept as `otel.scope.name/version`.
- Metrics: gauge -> gauge; monotonic sum -> counter (non-monotonic -> gauge);
  histogram -> `<name>_bucket{le}` (cumulative, like Prometheus), `_sum`, `_count`
  (+ `_min`/`_max`); exponential histogram -> `_sum`, `_count`; summary ->
  `<name>{quantile}`, `_sum`, `_count`. Points flagged "no recorded value" are skipped.
"""

from __future__ import annotations

import math

import orjson

from schemas.errors import DecodeError
from streams.ingest.decoders.base import DecodeContext, Decoded
from streams.ingest.decoders.jsonlog import loads

_RESOURCE_FIELDS = {"service.name": "service", "host.name": "host", "deployment.environment": "env",
                    "deployment.environment.name": "env", "tenant.id": "tenant", "tenant": "tenant"}
_NO_RECORDED_VALUE = 1


def any_value(v):
    """Python value of an OTLP AnyValue."""
    if type(v) is not dict:
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        raw = v["intValue"]
        try:
            return int(raw)
        except (TypeError, ValueError):
            return raw
    if "doubleValue" in v:
        return v["doubleValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in v:
        return {kv.get("key", ""): any_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values") or []
                if type(kv) is dict}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def _text(v) -> str:
    if type(v) is str:
        return v
    if type(v) in (dict, list):
        return orjson.dumps(v).decode()
    if v is True or v is False:
        return "true" if v else "false"
    return "" if v is None else str(v)


def attributes_of(items, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in items or ():
        if type(kv) is dict and "key" in kv:
            out[prefix + str(kv["key"])] = _text(any_value(kv.get("value")))
    return out


def _resource(res: dict | None) -> tuple[dict, dict]:
    """(canonical fields, remaining attributes as resource.*) of a resource."""
    fields: dict = {}
    attrs: dict = {}
    for key, value in attributes_of((res or {}).get("attributes")).items():
        name = _RESOURCE_FIELDS.get(key)
        if name is not None and name not in fields:
            fields[name] = value
        else:
            attrs[f"resource.{key}"] = value
    return fields, attrs


def _scope(scope: dict | None) -> dict:
    attrs: dict = {}
    if scope:
        if scope.get("name"):
            attrs["otel.scope.name"] = str(scope["name"])
        if scope.get("version"):
            attrs["otel.scope.version"] = str(scope["version"])
    return attrs


def _nanos(value) -> float | None:
    if value in (None, "", "0", 0):
        return None
    return int(value) / 1e9


def _logs(obj: dict) -> list[Decoded]:
    out: list[Decoded] = []
    for rl in obj.get("resourceLogs") or ():
        res_fields, res_attrs = _resource(rl.get("resource"))
        for sl in rl.get("scopeLogs") or ():
            scope_attrs = _scope(sl.get("scope"))
            for rec in sl.get("logRecords") or ():
                if type(rec) is not dict:
                    raise DecodeError("schema_violation", "OTLP logRecord is not an object")
                fields = dict(res_fields)
                attrs = {**res_attrs, **scope_attrs, **attributes_of(rec.get("attributes"))}
                ts = _nanos(rec.get("timeUnixNano")) or _nanos(rec.get("observedTimeUnixNano"))
                if ts is not None:
                    fields["ts"] = ts
                body = any_value(rec.get("body"))
                fields["message"] = _text(body)
                if rec.get("severityNumber"):
                    fields["severity_number"] = rec["severityNumber"]
                if rec.get("severityText"):
                    fields["severity_text"] = rec["severityText"]
                    attrs["otel.severity_text"] = str(rec["severityText"])
                if rec.get("traceId"):
                    fields["trace_id"] = rec["traceId"]
                if rec.get("spanId"):
                    fields["span_id"] = rec["spanId"]
                if rec.get("eventName"):
                    attrs["event.name"] = str(rec["eventName"])
                out.append(Decoded("log", fields, attrs))
    return out


def _point_value(point: dict):
    if "asDouble" in point:
        return point["asDouble"]
    if "asInt" in point:
        return int(point["asInt"])
    return None


def _sample(fields: dict, attrs: dict, name: str, mtype: str, unit: str, value, point: dict,
            labels: dict) -> Decoded:
    f = dict(fields)
    f["name"] = name
    f["type"] = mtype
    f["unit"] = unit
    f["value"] = value
    ts = _nanos(point.get("timeUnixNano"))
    if ts is not None:
        f["ts"] = ts
    a = dict(attrs)
    start = point.get("startTimeUnixNano")
    if start not in (None, "", "0", 0):
        a["otel.start_time_unix_nano"] = str(start)
    return Decoded("metric", f, a, labels)


def _metric_samples(metric: dict, fields: dict, attrs: dict) -> list[Decoded]:
    name = metric.get("name")
    if type(name) is not str or not name:
        raise DecodeError("schema_violation", "OTLP metric has no name")
    unit = str(metric.get("unit") or "")
    out: list[Decoded] = []
    for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
        data = metric.get(kind)
        if data is None:
            continue
        a = dict(attrs)
        if data.get("aggregationTemporality"):
            a["otel.temporality"] = {1: "delta", 2: "cumulative", "AGGREGATION_TEMPORALITY_DELTA": "delta",
                                     "AGGREGATION_TEMPORALITY_CUMULATIVE": "cumulative"}.get(
                data["aggregationTemporality"], str(data["aggregationTemporality"]))
        for point in data.get("dataPoints") or ():
            if type(point) is not dict:
                raise DecodeError("schema_violation", f"OTLP metric {name!r}: data point is not an object")
            if int(point.get("flags") or 0) & _NO_RECORDED_VALUE:
                continue
            labels = attributes_of(point.get("attributes"))
            if kind == "gauge" or kind == "sum":
                value = _point_value(point)
                if value is None:
                    continue
                mtype = "counter" if kind == "sum" and data.get("isMonotonic") else "gauge"
                out.append(_sample(fields, a, name, mtype, unit, value, point, labels))
            elif kind == "summary":
                for q in point.get("quantileValues") or ():
                    ql = {**labels, "quantile": _num_text(q.get("quantile", 0))}
                    out.append(_sample(fields, a, name, "summary", unit, q.get("value", 0), point, ql))
                out.append(_sample(fields, a, name + "_sum", "summary", unit, point.get("sum", 0), point, labels))
                out.append(_sample(fields, a, name + "_count", "summary", "", int(point.get("count", 0)), point,
                                   labels))
            else:
                if kind == "histogram":
                    bounds = point.get("explicitBounds") or []
                    counts = point.get("bucketCounts") or []
                    running = 0
                    for i, count in enumerate(counts):
                        running += int(count)
                        le = _num_text(bounds[i]) if i < len(bounds) else "+Inf"
                        out.append(_sample(fields, a, name + "_bucket", "histogram", "", running, point,
                                           {**labels, "le": le}))
                if "sum" in point:
                    out.append(_sample(fields, a, name + "_sum", "histogram", unit, point["sum"], point, labels))
                out.append(_sample(fields, a, name + "_count", "histogram", "", int(point.get("count", 0)),
                                   point, labels))
                for extra in ("min", "max"):
                    if extra in point:
                        out.append(_sample(fields, a, f"{name}_{extra}", "gauge", unit, point[extra], point,
                                           labels))
    return out


def _num_text(v) -> str:
    f = float(v)
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return repr(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)


def _metrics(obj: dict) -> list[Decoded]:
    out: list[Decoded] = []
    for rm in obj.get("resourceMetrics") or ():
        res_fields, res_attrs = _resource(rm.get("resource"))
        for sm in rm.get("scopeMetrics") or ():
            attrs = {**res_attrs, **_scope(sm.get("scope"))}
            for metric in sm.get("metrics") or ():
                if type(metric) is not dict:
                    raise DecodeError("schema_violation", "OTLP metric is not an object")
                out.extend(_metric_samples(metric, res_fields, attrs))
    return out


def from_object(obj: dict, ctx: DecodeContext) -> list[Decoded]:
    try:
        if "resourceLogs" in obj:
            return _logs(obj)
        if "resourceMetrics" in obj:
            return _metrics(obj)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise DecodeError("schema_violation", f"OTLP/JSON: {type(exc).__name__}: {exc}"[:300]) from None
    raise DecodeError("schema_violation", "OTLP/JSON record has neither resourceLogs nor resourceMetrics")


def decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    obj = loads(value)
    if type(obj) is not dict:
        raise DecodeError("schema_violation", "OTLP/JSON record is not an object")
    return from_object(obj, ctx)
