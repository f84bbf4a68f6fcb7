"""Decoders, one module per format, and the registry keyed by format name.

`IngestConfig.formats` forces a format per topic or stream; "auto" (the default)
picks one per record from its first bytes, JSON first because it is the bulk:

| first bytes | format |
|---|---|
| `{`, or `[` starting a valid JSON array | json (otlp_json when it holds resourceLogs/resourceMetrics) |
| `<PRI>` | syslog (RFC 5424 or 3164) |
| `CEF:` | cef |
| `[Sun Dec 04 ...` | apache_error |
| `Mmm dd hh:mm:ss`, ISO date + host | syslog without PRI (file-tailed) |
| `2024/05/01 12:00:00 [` | nginx error log (apache_error) |
| `host ident user [date] "request"` | access (Apache / nginx common and combined) |
| `# HELP` / `# TYPE`, or `name{...} value` on the metrics stream | prometheus |
| `key=value ...` | logfmt |
| anything else on logs/security | text (the line is the message); on metrics: decode_error |

The usual logfmt and access lines are told in C (`_textlog.text_kind`, unless
SLUICE_PURE_PYTHON=1) before the regexes: it answers only when the regexes would
pick that decoder, and leaves every other line to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson

from schemas.errors import ConfigError, DecodeError
from streams.ingest import accel
from streams.ingest.decoders import apache, cef, jsonlog, logfmt, otlp, prometheus, syslog, text
from streams.ingest.decoders.base import DecodeContext, Decoded

Decoder = Callable[[bytes, DecodeContext], list[Decoded]]

FORMATS: dict[str, Decoder] = {
    "json": jsonlog.decode,
    "otlp_json": otlp.decode,
    "logfmt": logfmt.decode,
    "syslog": syslog.decode,
    "rfc3164": syslog.decode_3164,
    "rfc5424": syslog.decode_5424,
    "access": apache.decode_access,
    "apache_access": apache.decode_access,
    "nginx_access": apache.decode_access,
    "apache_error": apache.decode_error_log,
    "nginx_error": apache.decode_error_log,
    "prometheus": prometheus.decode,
    "cef": cef.decode,
    "auth": syslog.decode_auth,
    "text": text.decode,
}
AUTO = "auto"
_WEEKDAYS = (b"[Mon ", b"[Tue ", b"[Wed ", b"[Thu ", b"[Fri ", b"[Sat ", b"[Sun ")
_STRIPPED = (b"\xef", b" ", b"\t", b"\r", b"\n")  # first bytes of what _start removes
# The tests on the first 64 characters, in their order, as one regex: `key=` first (no
# syslog, access or error log line starts so), a bare syslog date, an nginx error log.
_BY_START = re.compile(f"(?P<logfmt>{logfmt.DETECT.pattern})|(?P<syslog>{syslog.BARE_START.pattern})"
                       f"|(?P<error>{apache.NGINX_ERROR_START})")
_START_DECODERS = {"logfmt": logfmt.decode, "syslog": syslog.decode, "error": apache.decode_error_log}
# text_kind(value) -> 0 (ask the regexes), 1 (logfmt) or 2 (access); None: not built
_text_kind = apache._textlog.text_kind if apache._textlog is not None and accel.wanted() else None
# For the C batch loop (_hotloop.c), which picks the decoder of the usual text lines
# itself, without `decode` and `sniff` around it: (text_kind, then the decoders `sniff`
# returns for a `<PRI>` line, for text_kind 1 and for text_kind 2). None: ask `decode`.
SNIFFED = (_text_kind, syslog.decode, _START_DECODERS["logfmt"], apache.decode_access) if _text_kind else None


def check_format(name: str, key: str) -> str:
    if name != AUTO and name not in FORMATS:
        raise ConfigError(f"unknown format {name!r}; known: auto, {', '.join(sorted(FORMATS))}", key=key)
    return name


def _start(value: bytes) -> bytes:
    """The record without leading blanks or a UTF-8 byte order mark."""
    if value[:3] == b"\xef\xbb\xbf":
        value = value[3:]
    if value[:1] in (b" ", b"\t", b"\r", b"\n"):
        value = value.lstrip(b" \t\r\n")
    return value


def _is_json(value: bytes) -> bool:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False  # "[INFO] server started" is a text line
    return True


def sniff(value: bytes, stream: str) -> Decoder:
    """The decoder for one record, from its first bytes (and the stream for the
    ambiguous bare `name value` Prometheus line). `value` starts with no blank."""
    b0 = value[:1]
    if b0 == b"{":
        return jsonlog.decode
    if b0 == b"[":
        if value[:5] in _WEEKDAYS:
            return apache.decode_error_log
        if _is_json(value):
            return jsonlog.decode  # an array: of objects, one event each; else a schema violation
    elif b0 == b"<":
        return syslog.decode
    elif b0 == b"#":
        return prometheus.decode if prometheus.DETECT.match(value[:64].decode("utf-8", "replace")) else text.decode
    elif value.startswith(b"CEF:"):
        return cef.decode
    if _text_kind is not None:
        kind = _text_kind(value)
        if kind:  # the very objects the roads below return
            return _START_DECODERS["logfmt"] if kind == 1 else apache.decode_access
    start = value[:64].decode("utf-8", "replace")
    m = _BY_START.match(start)
    if m is not None:
        return _START_DECODERS[m.lastgroup]
    if b" [" in value[:300] and apache.ACCESS_START.match(value[:8192].decode("utf-8", "replace")):
        return apache.decode_access
    if stream == "metrics" and prometheus.DETECT.match(start):
        return prometheus.decode
    return text.decode


def decode(value: bytes, fmt: str, ctx: DecodeContext) -> list[Decoded]:
    """Decode one record with format `fmt` ("auto" sniffs). Raises DecodeError."""
    if value[:1] in _STRIPPED:
        value = _start(value)
    if not value or value.isspace():  # `not value.strip()`, without the copy
        raise DecodeError("empty", "record is empty or blank")
    decoder = sniff(value, ctx.stream) if fmt == AUTO else FORMATS[fmt]
    try:
        return decoder(value, ctx)
    except DecodeError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError("decode_error", f"{type(exc).__name__}: {exc}"[:300]) from None
