"""Prometheus text exposition format (0.0.4, and the OpenMetrics text it overlaps
with): one record is a scrape page, each sample line one MetricSample.

`# TYPE` gives the family type to its samples, including a histogram's `_bucket`,
`_sum`, `_count` and a summary's `_sum`, `_count`; `# HELP` text is kept as the
`help` attribute. Label values unescape `\\\\`, `\\"` and `\\n`. A trailing
timestamp is epoch milliseconds (Prometheus) or seconds (OpenMetrics), told apart by
magnitude. The `job` and `instance` labels also fill
service and host. NaN and ±Inf values cannot be stored as samples: they are
skipped and counted (IngestOutput.skipped["non_finite_value"]).
"""

from __future__ import annotations

import re

from schemas.errors import DecodeError
from streams.ingest.decoders.base import QUOTED_BODY, DecodeContext, Decoded, utf8
from streams.ingest.timeparse import epoch_seconds

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_NAME_AT = re.compile(_NAME)
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"(' + QUOTED_BODY + r')"\s*,?')
_META = re.compile(r"#\s*(HELP|TYPE|UNIT)\s+(" + _NAME + r")(?:\s+(.*))?\Z")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
_ESCAPE = re.compile(r"\\(.)")
TYPES = {"counter": "counter", "gauge": "gauge", "histogram": "histogram", "summary": "summary",
         "untyped": "gauge", "unknown": "gauge", "gaugehistogram": "histogram", "stateset": "gauge",
         "info": "gauge"}
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_gsum", "_gcount", "_info")
_SPECIAL = {"+Inf": float("inf"), "Inf": float("inf"), "-Inf": float("-inf"), "NaN": float("nan"),
            "+inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}
DETECT = re.compile(r"(?:#\s*(?:HELP|TYPE)\s|" + _NAME + r"(?:\{[^\n]*\})?[ \t]+[-+]?(?:\d|Inf|NaN|inf|nan))")


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)


def sample_line(line: str, lineno: int) -> tuple[str, dict[str, str], str, str | None]:
    """(name, labels, value text, timestamp text or None) of one sample line;
    an OpenMetrics exemplar (`# {...} v`) after the value is ignored."""
    m = _NAME_AT.match(line)
    if m is None:
        raise DecodeError("decode_error", f"prometheus: line {lineno} is not a sample")
    name, pos = m.group(0), m.end()
    labels: dict[str, str] = {}
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    if line.startswith("{", pos):
        pos += 1
        while True:
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if line.startswith("}", pos):
                pos += 1
                break
            lm = _LABEL.match(line, pos)
            if lm is None:
                raise DecodeError("decode_error", f"prometheus: line {lineno}: bad label set")
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
    parts = line[pos:].split()
    if not parts or parts[0] == "#":
        raise DecodeError("decode_error", f"prometheus: line {lineno}: sample has no value")
    stamp = parts[1] if len(parts) > 1 and parts[1] != "#" else None
    return name, labels, parts[0], stamp


def _family(name: str, types: dict) -> str | None:
    if name in types:
        return name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return None


def decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    text = utf8(value)
    types: dict[str, str] = {}
    helps: dict[str, str] = {}
    units: dict[str, str] = {}
    out: list[Decoded] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            meta = _META.match(line)
            if meta is not None:
                kind, name, rest = meta.groups()
                if kind == "TYPE":
                    types[name] = TYPES.get((rest or "").strip().lower(), "gauge")
                elif kind == "HELP":
                    helps[name] = _unescape(rest or "")
                else:
                    units[name] = (rest or "").strip()
            continue
        name, labels, raw_value, stamp = sample_line(line, lineno)
        try:
            sample_value = _SPECIAL[raw_value] if raw_value in _SPECIAL else float(raw_value)
            ts = epoch_seconds(float(stamp)) if stamp is not None else None
        except ValueError:
            raise DecodeError("decode_error", f"prometheus: line {lineno}: bad value or timestamp") from None
        family = _family(name, types)
        fields: dict = {"name": name, "value": sample_value,
                        "type": types[family] if family is not None else "gauge"}
        attrs: dict = {}
        if family is not None:
            if family in helps:
                attrs["help"] = helps[family]
            if family in units:
                fields["unit"] = units[family]
        if ts is not None:
            fields["ts"] = ts
        if "job" in labels:
            fields["service"] = labels["job"]
        if "instance" in labels:
            fields["host"] = labels["instance"]
        out.append(Decoded("metric", fields, attrs, labels))
    return out
