"""ArcSight Common Event Format:
`CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|key=value key2=value with spaces`.

Header fields escape `|` and `\\` with a backslash; extension values escape `=`,
`\\`, and write newlines as `\\n`. A value runs until the next unescaped ` key=`.
Standard keys map onto the security event (src -> source_ip, suser -> actor,
duser -> target, act -> action, outcome, cat -> category, msg -> message, rt -> ts,
dvchost -> host); custom strings `csN` are named by their `csNLabel`; everything
else is kept as `cef.<key>`.
"""

from __future__ import annotations

import re

from schemas.errors import DecodeError
from streams.ingest.decoders.base import DecodeContext, Decoded, utf8

_HEADER_FIELD = re.compile(r"((?:[^|\\]|\\.)*)\|", re.S)
_HEADER_UNESCAPE = re.compile(r"\\([|\\])")
_EXT_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\[\]-]+)=")
_EXT_UNESCAPE = re.compile(r"\\(.)", re.S)
_EXT_ESCAPES = {"n": "\n", "r": "\r", "=": "=", "\\": "\\", "t": "\t"}
HEADER = ("cef.version", "cef.device_vendor", "cef.device_product", "cef.device_version", "cef.signature_id",
          "cef.name", "cef.severity")

# CEF key -> canonical field (normalize.py aliases) or ECS-style attribute name.
FIELDS = {"src": "source_ip", "c6a2": "source_ip", "suser": "actor", "duser": "target", "act": "action",
          "outcome": "outcome", "msg": "message", "dvchost": "host", "dhost": "destination.domain"}
ATTRIBUTES = {
    "dst": "destination.ip", "spt": "source.port", "dpt": "destination.port", "shost": "source.domain",
    "smac": "source.mac", "dmac": "destination.mac", "proto": "network.transport", "app": "network.protocol",
    "request": "url.original", "requestMethod": "http.request.method", "requestClientApplication":
    "user_agent.original", "fname": "file.name", "filePath": "file.path", "fsize": "file.size",
    "dvc": "observer.ip", "deviceExternalId": "observer.serial_number", "in": "source.bytes",
    "out": "destination.bytes", "suid": "user.id", "duid": "user.target.id", "sproc": "process.name",
    "dproc": "process.target.name", "cnt": "event.count", "reason": "event.reason",
    "externalId": "event.external_id", "deviceDirection": "network.direction",
}
CATEGORIES = (("authentication", "authentication"), ("login", "authentication"), ("logon", "authentication"),
              ("privilege", "privilege"), ("sudo", "privilege"), ("authorization", "authorization"),
              ("access", "authorization"), ("permission", "authorization"), ("firewall", "network"),
              ("network", "network"), ("traffic", "network"), ("intrusion", "network"), ("ids", "network"),
              ("config", "configuration"), ("policy", "configuration"), ("audit", "audit"),
              ("file", "data_access"), ("data", "data_access"))
SEVERITY_NAMES = {"low": "info", "medium": "warn", "high": "error", "very-high": "fatal", "veryhigh": "fatal",
                  "very high": "fatal", "unknown": None}
OUTCOME_WORDS = {"success": "success", "failure": "failure", "failed": "failure", "fail": "failure",
                 "succeeded": "success", "allowed": "success", "blocked": "failure", "denied": "failure"}


def _ext_unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _EXT_UNESCAPE.sub(lambda m: _EXT_ESCAPES.get(m.group(1), "\\" + m.group(1)), value)


def _severity(raw: str) -> str | None:
    text = raw.strip()
    if text.isdigit():
        n = int(text)
        return "info" if n <= 3 else "warn" if n <= 6 else "error" if n <= 8 else "fatal"
    return SEVERITY_NAMES.get(text.lower())


def _category(raw: str) -> str:
    low = raw.lower()
    for word, category in CATEGORIES:
        if word in low:
            return category
    return "other"


def extension(text: str) -> dict[str, str]:
    keys = list(_EXT_KEY.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
        out[m.group(1)] = _ext_unescape(text[m.end():end].rstrip())
    if keys and text[:keys[0].start()].strip():
        raise DecodeError("decode_error", "CEF: extension does not start with key=value")
    return out


def parse(text: str, ctx: DecodeContext) -> tuple[dict, dict]:
    """(fields, attributes) of a security event from a `CEF:` line."""
    if not text.startswith("CEF:"):
        raise DecodeError("decode_error", "CEF: missing CEF: prefix")
    header, pos = [], 0
    for _ in range(7):
        m = _HEADER_FIELD.match(text, pos)
        if m is None:
            raise DecodeError("decode_error", f"CEF: {len(header)} header fields, 7 expected")
        header.append(_HEADER_UNESCAPE.sub(r"\1", m.group(1)))
        pos = m.end()
    header[0] = header[0][4:]
    attributes = {name: value for name, value in zip(HEADER, header, strict=True) if value}
    attributes["sluice.format"] = "cef"
    fields: dict = {"service": header[2] or None, "message": header[5]}
    level = _severity(header[6])
    if level:
        fields["level"] = level
    ext = extension(text[pos:])
    labels = {k: v for k, v in ext.items() if k.endswith("Label")}
    for key, value in ext.items():
        if key in labels:
            continue
        name = FIELDS.get(key)
        if name is not None:
            if name == "outcome":
                value = OUTCOME_WORDS.get(value.strip().strip("/").lower(), value)
            fields[name] = value
        elif key == "cat":
            fields["category"] = _category(value)
            attributes["cef.cat"] = value
        elif key in ("rt", "end", "start"):
            if key == "rt" or "ts" not in fields:
                try:
                    fields["ts"] = ctx.times.cef(value)
                except (ValueError, OverflowError, IndexError):
                    attributes["sluice.ts_flag"] = "unparsable"
                    attributes["sluice.original_ts"] = value[:64]
            attributes[f"cef.{key}"] = value
        elif (label := labels.get(key + "Label")) is not None and label:
            attributes[label] = value
        else:
            attributes[ATTRIBUTES.get(key, f"cef.{key}")] = value
    return fields, attributes


def decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    text = utf8(value)
    fields, attributes = parse(text, ctx)
    return [Decoded("security", fields, attributes)]
