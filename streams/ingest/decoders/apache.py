"""Web server logs: Apache/nginx access logs (Common and Combined Log Format, with
whatever nginx appends after the user agent), the Apache error log (2.2
`[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] msg` and 2.4
`[Fri Sep 09 10:42:29.902022 2011] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:1234] AH00128: msg`)
and the nginx error log (`2024/05/01 12:00:00 [error] 1234#0: *5 msg, client: ...`).

Attribute names follow the Elastic Common Schema (http.*, url.*, source.*).
The message is the original line; access lines are ERROR for 5xx and WARN for 4xx.

`decode_access` in C (`_textlog.c`, built when a compiler is at hand) takes over
unless SLUICE_PURE_PYTHON=1 (read at import): the same records, the same errors and
the same date memo, several times faster on the usual Common / Combined line. The
Python function (`decode_access_py`) stays the reference and the fallback: the C
form hands it every line it does not read itself (a quoted user with a blank, a
non-ASCII byte in a bare token, invalid UTF-8, a line that does not match...) and
calls `_access_time` for a date not in the memo and `_unescape` for escapes.
"""

from __future__ import annotations

import re

from schemas.errors import DecodeError
from streams.ingest import accel
from streams.ingest.decoders.base import DATES_LIMIT, QUOTED_BODY, DecodeContext, Decoded, utf8

_textlog = accel.load("_textlog")

_QUOTED = r'"(' + QUOTED_BODY + r')"'
_ACCESS_HEAD = r"(\S+) (\S+) (\S+|\"[^\"]*\") \[([^\]]+)\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
ACCESS = re.compile(_ACCESS_HEAD + r"(?: " + _QUOTED + r" " + _QUOTED + r")?(.*)\Z", re.S)
# What ACCESS needs to match: the rest of it matches any text. Detection stops here.
ACCESS_START = re.compile(_ACCESS_HEAD, re.S)
APACHE_ERROR = re.compile(r"\[((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d [\d:.]+ \d{4})\] "
                          r"\[(?:([^:\]\s]+):)?([a-z]+\d?)\] ?(.*)\Z", re.S)
NGINX_ERROR = re.compile(r"(\d{4}/\d\d/\d\d) (\d\d:\d\d:\d\d) \[([a-z]+)\] (\d+)#(\d+): (?:\*(\d+) )?(.*)\Z", re.S)
# What NGINX_ERROR needs to match, without groups (the rest of it matches any text).
NGINX_ERROR_START = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[[a-z]+\] \d+#\d+: "
_NGINX_CONTEXT = re.compile(r', (client|server|request|upstream|host|referrer): ("' + QUOTED_BODY + r'"|[^,]*)')
_ERROR_CODE = re.compile(r"(AH\d{5}): ")
_LEVEL_OF_STATUS = {"5": "error", "4": "warn"}
_LEVELS = {"emerg": "emerg", "alert": "alert", "crit": "crit", "error": "error", "warn": "warn",
           "notice": "notice", "info": "info", "debug": "debug"}
_NGINX_CONTEXT_NAMES = {"client": "source.address", "server": "server.name", "request": "http.request.line",
                        "upstream": "upstream.url", "host": "url.domain", "referrer": "http.request.referrer"}


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


def parse_access(text: str, ctx: DecodeContext) -> tuple[dict, dict] | None:
    m = ACCESS.match(text)
    if m is None:
        return None
    client, ident, user, stamp, request, status, size, referer, agent, rest = m.groups()
    attributes = {"source.address": client, "sluice.format": "access"}
    ts = ctx.access_dates.get(stamp)
    if ts is None:
        ts = _access_time(stamp, ctx, attributes)
    fields: dict = {"message": text} if ts is None else {"message": text, "ts": ts}
    if user not in ("-", '"-"', '""'):
        attributes["user.name"] = user.strip('"')
    if ident != "-":
        attributes["user.ident"] = ident
    if "\\" in request:
        request = _unescape(request)
    parts = request.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        attributes["http.request.method"] = parts[0]
        attributes["url.original"] = parts[1]
        attributes["http.version"] = parts[2][5:]
    else:
        attributes["http.request.line"] = request
    if status != "-":
        attributes["http.response.status_code"] = status
        fields["level"] = _LEVEL_OF_STATUS.get(status[0], "info")
    if size != "-":
        attributes["http.response.body.bytes"] = size
    if referer is not None:
        if referer != "-":
            attributes["http.request.referrer"] = _unescape(referer) if "\\" in referer else referer
        if agent != "-":
            attributes["user_agent.original"] = _unescape(agent) if "\\" in agent else agent
    rest = rest.strip()
    if rest:
        attributes["access.extra"] = rest
    return fields, attributes


def _access_time(stamp: str, ctx: DecodeContext, attributes: dict) -> float | None:
    """The time of an access line (remembered for the batch), or None with the event flagged."""
    try:
        ts = ctx.times.apache_access(stamp)
    except (ValueError, IndexError, OverflowError):
        attributes["sluice.ts_flag"] = "unparsable"
        attributes["sluice.original_ts"] = stamp[:64]
        return None
    if len(ctx.access_dates) > DATES_LIMIT:
        ctx.access_dates.clear()
    ctx.access_dates[stamp] = ts
    return ts


def _client(value: str, has_port: bool) -> tuple[str, str]:
    if value.startswith("[") and "]:" in value:
        ip, _, port = value[1:].partition("]:")
        return ip, port
    if has_port and value.count(":") >= 1:
        ip, _, port = value.rpartition(":")
        if port.isdigit():
            return ip, port
    return value, ""


def parse_apache_error(text: str, ctx: DecodeContext) -> tuple[dict, dict] | None:
    m = APACHE_ERROR.match(text)
    if m is None:
        return None
    stamp, module, level, rest = m.groups()
    attributes = {"sluice.format": "apache_error"}
    fields: dict = {"level": "trace" if level.startswith("trace") else _LEVELS.get(level, level)}
    try:
        fields["ts"] = ctx.times.ctime(stamp)
    except (ValueError, IndexError, OverflowError):
        attributes["sluice.ts_flag"] = "unparsable"
        attributes["sluice.original_ts"] = stamp[:64]
    if module:
        attributes["apache.module"] = module
    while rest.startswith("["):
        end = rest.find("] ")
        if end < 0:
            end = len(rest) - 1 if rest.endswith("]") else -1
        if end < 0:
            break
        group, rest = rest[1:end], rest[end + 2:]
        key, _, val = group.partition(" ")
        if key == "pid":
            pid, _, tid = val.partition(":tid ")
            attributes["process.pid"] = pid
            if tid:
                attributes["process.thread.id"] = tid
        elif key == "client" and val:
            ip, port = _client(val, has_port=module is not None)
            attributes["source.address"] = ip
            if port:
                attributes["source.port"] = port
        elif key == "remote" and val:
            attributes["source.address"] = val
        else:
            attributes["apache.context"] = group
            rest = f"[{group}] {rest}"
            break
    code = _ERROR_CODE.match(rest)
    if code is not None:
        attributes["error.code"] = code.group(1)
    fields["message"] = rest
    return fields, attributes


def parse_nginx_error(text: str, ctx: DecodeContext) -> tuple[dict, dict] | None:
    m = NGINX_ERROR.match(text)
    if m is None:
        return None
    date, hms, level, pid, tid, cid, msg = m.groups()
    attributes = {"process.pid": pid, "process.thread.id": tid, "sluice.format": "nginx_error"}
    if cid:
        attributes["nginx.connection_id"] = cid
    fields: dict = {"level": _LEVELS.get(level, level), "message": msg, "service": "nginx"}
    try:
        fields["ts"] = ctx.times.slashed(date, hms)
    except (ValueError, IndexError, OverflowError):
        attributes["sluice.ts_flag"] = "unparsable"
        attributes["sluice.original_ts"] = f"{date} {hms}"
    for name, value in _NGINX_CONTEXT.findall(msg):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = _unescape(value[1:-1])
        attributes[_NGINX_CONTEXT_NAMES[name]] = value
    return fields, attributes


def decode_access(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    hit = parse_access(utf8(value), ctx)
    if hit is None:
        raise DecodeError("decode_error", "not a Common/Combined Log Format line")
    return [Decoded(None, *hit)]


decode_access_py = decode_access


def accelerated_access_decoder():
    """decode_access in C, falling back on decode_access_py; None when not built."""
    if _textlog is None:
        return None
    return _textlog.AccessDecoder(decode_access_py, _access_time, _unescape, Decoded)


def decode_error_log(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    text = utf8(value)
    hit = parse_apache_error(text, ctx) or parse_nginx_error(text, ctx)
    if hit is None:
        raise DecodeError("decode_error", "not an Apache or nginx error log line")
    return [Decoded(None, hit[0], hit[1])]


if accel.wanted():
    decode_access = accelerated_access_decoder() or decode_access_py
