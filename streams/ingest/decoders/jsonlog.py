"""JSON records: one object per record (flat, nested, ECS- or OpenTelemetry-style
field names), or an array of objects (one event each). An object holding
`resourceLogs` / `resourceMetrics` is an OTLP/JSON export batch."""

from __future__ import annotations

import orjson

from schemas.errors import DecodeError
from streams.ingest.decoders.base import DecodeContext, Decoded

OTLP_KEYS = ("resourceLogs", "resourceMetrics")


def loads(value: bytes):
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
        if "UTF-8" in msg or "surrogate" in msg:
            raise DecodeError("invalid_utf8", msg[:300]) from None
        raise DecodeError("decode_error", f"not JSON: {msg[:300]}") from None


def decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    obj = loads(value)
    if type(obj) is dict:
        if "resourceLogs" in obj or "resourceMetrics" in obj:
            from streams.ingest.decoders import otlp
            return otlp.from_object(obj, ctx)
        return [Decoded(None, obj)]
    if type(obj) is list and obj:
        if all(type(x) is dict for x in obj):
            return [Decoded(None, x) for x in obj]
        raise DecodeError("schema_violation", "a JSON array record must hold only objects")
    raise DecodeError("schema_violation", f"expected a JSON object, got {type(obj).__name__}")
