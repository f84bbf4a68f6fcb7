"""Syslog: RFC 5424 (`<165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [sd] msg`),
RFC 3164 (`<34>Oct 11 22:14:15 host su[123]: msg`, no year: the year is inferred
from the observed time), and the same lines without `<PRI>` as files hold them, with
either date style.

The message inside the envelope is decoded further when it is recognisable: Linux
auth lines (sshd, sudo, su, PAM, ...) become security events, `CEF:` messages go to
the CEF decoder, a JSON object is merged over the envelope fields, and nginx/Apache
access lines are parsed.

`decode` in C (`streams/ingest/_syslog.c`, built when a compiler is at hand) takes
over unless SLUICE_PURE_PYTHON=1: the same records, the same errors and the same date
memo, several times faster. It reads the usual RFC 3164 line (`_3164_USUAL`) and RFC
5424 lines with an ASCII header, calls back into `_date_3164`, `_iso` and `inner`
below for year-less dates, unknown seconds and CEF/JSON/access messages, and hands
every other record to the Python `_py_decode`, which stays the reference and the
fallback.
"""

from __future__ import annotations

import re

import orjson

from schemas.errors import DecodeError
from streams.ingest.decoders import apache, auth, cef
from streams.ingest.decoders.auth import _syslog  # the C module, None when not built
from streams.ingest.decoders.base import DATES_LIMIT, QUOTED_BODY, DecodeContext, Decoded, utf8

SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")

_PRI = re.compile(r"<(\d{1,3})>")
_5424 = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?")
_SD_ELEMENT = re.compile(r'\[([^\s\]="]+)((?:\s+[^\s=\]"]+="' + QUOTED_BODY + r'")*)\s*\]')
_SD_PARAM = re.compile(r'([^\s=\]"]+)="(' + QUOTED_BODY + r')"')
_SD_UNESCAPE = re.compile(r'\\(["\\\]])')
_DATE_3164 = re.compile(r"([A-Za-z]{3}) {1,2}(\d{1,2}) (?:(\d{4}) )?(\d\d:\d\d:\d\d(?:\.\d{1,9})?)(?: |$)")
_DATE_ISO = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)(?: |$)")
_TAG = re.compile(r"([^\s\[\]:]{1,64})(?:\[([^\]\s]{1,32})\])?:(?: |\Z)")
# The usual RFC 3164 line, `<PRI>Mmm dd hh:mm:ss host tag[pid]: msg`, in one match:
# the same groups as _PRI, _DATE_3164, the host token and _TAG one after the other
# (a host free of `[]:` never reads as a tag). Other lines take parse_3164's road.
# The optional pid is `(?:...|)` for speed, as in auth.py.
_3164_USUAL = re.compile(r"<(\d{1,3})>(([A-Za-z]{3}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d)) ([^\s\[\]:]+) "
                         r"([^\s\[\]:]{1,64})(?:\[([^\]\s]{1,32})\]|):(?: |\Z)")
BARE_START = re.compile(r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)")
_ACCESS_PROGRAMS = frozenset(("nginx", "httpd", "apache", "apache2", "apache-access", "nginx-access"))


_PRIS = {str(p): (FACILITIES[p >> 3], SEVERITIES[p & 7]) for p in range(192)}


def _pri(value: str) -> tuple[str, str]:
    hit = _PRIS.get(value)
    if hit is None:
        hit = _PRIS.get(value.lstrip("0") or "0")  # "<013>" is not canonical but means 13
        if hit is None:
            raise DecodeError("decode_error", f"syslog: PRI {value} out of range")
    return hit


def parse_5424(text: str, ctx: DecodeContext, m: re.Match | None = None) -> tuple[dict, dict]:
    if m is None:
        m = _5424.match(text)
        if m is None:
            raise DecodeError("decode_error", "syslog: not an RFC 5424 header")
    pri, _, stamp, host, app, procid, msgid = m.groups()
    facility, level = _PRIS.get(pri) or _pri(pri)
    attributes = {"syslog.facility": facility, "sluice.format": "rfc5424"}
    fields: dict = {"level": level, "host": "" if host == "-" else host, "service": None if app == "-" else app}
    if stamp != "-":
        fields["ts"] = _iso(stamp, ctx)
    if procid != "-":
        attributes["process.pid"] = procid
    if msgid != "-":
        attributes["syslog.msgid"] = msgid
    pos = m.end()
    sd_start = text[pos:pos + 1]
    if sd_start == "-":
        pos += 1
    elif sd_start == "[":
        while True:
            sd = _SD_ELEMENT.match(text, pos)
            if sd is None:
                break
            sd_id, body = sd.groups()
            params = _SD_PARAM.findall(body)
            for name, val in params:
                attributes[f"syslog.sd.{sd_id}.{name}"] = _SD_UNESCAPE.sub(r"\1", val) if "\\" in val else val
            if not params:
                attributes[f"syslog.sd.{sd_id}"] = ""
            pos = sd.end()
        if pos == m.end():
            raise DecodeError("decode_error", "syslog: malformed structured data")
    msg = text[pos:]
    if msg[:1] == " ":
        msg = msg[1:]
    if msg[:1] == "\ufeff":
        msg = msg[1:]
    fields["message"] = msg
    return fields, attributes


def _iso(stamp: str, ctx: DecodeContext) -> float | str:
    """An RFC 5424 TIMESTAMP, or the text itself when unreadable (the normalizer flags it)."""
    if stamp[-1:] == "Z" and stamp[19:20] == ".":
        # The usual `...hh:mm:ssZ` with a fraction: TimeParser.iso's own fast path, inline.
        base = ctx.times.iso_cache.get(stamp[:19])
        if base is not None and stamp[20:-1].isdigit():
            return base + float(stamp[19:-1])
    try:
        return ctx.times.iso(stamp)
    except ValueError:
        return stamp


def parse_3164(text: str, ctx: DecodeContext) -> tuple[dict, dict]:
    attributes: dict = {"sluice.format": "rfc3164"}
    fields: dict = {}
    pos = 0
    m = _PRI.match(text)
    if m is not None:
        pri = m.group(1)
        facility, level = _PRIS.get(pri) or _pri(pri)
        attributes["syslog.facility"] = facility
        fields["level"] = level
        pos = m.end()
    d = _DATE_3164.match(text, pos)
    if d is not None:
        month, day, year, hms = d.groups()
        if year:
            fields["ts"] = _with_year(ctx, int(year), month, int(day), hms)
        else:
            fields["ts"] = _date_3164(ctx, d.group(0).rstrip(" "), month, day, hms)
    else:
        d = _DATE_ISO.match(text, pos)
        if d is not None:
            fields["ts"] = ctx.times.iso(d.group(1).replace(" ", "T", 1))
        elif m is None:
            raise DecodeError("decode_error", "syslog: no PRI and no timestamp")
    rest = text[pos:] if d is None else text[d.end():]
    tag = _TAG.match(rest)
    if tag is None and d is not None:
        # HOSTNAME comes first unless the first token already is the TAG.
        host, _, rest = rest.partition(" ")
        fields["host"] = host
        tag = _TAG.match(rest)
    if tag is not None:
        fields["service"] = tag.group(1)
        if tag.group(2):
            attributes["process.pid"] = tag.group(2)
        rest = rest[tag.end():]
    fields["message"] = rest
    return fields, attributes


def _date_3164(ctx: DecodeContext, date: str, month: str, day: str, hms: str) -> float:
    ts = ctx.syslog_dates.get(date)
    if ts is None:
        ts = ctx.times.syslog_3164(month, int(day), hms, ctx.observed)
        if len(ctx.syslog_dates) > DATES_LIMIT:
            ctx.syslog_dates.clear()
        ctx.syslog_dates[date] = ts
    return ts


def _with_year(ctx: DecodeContext, year: int, month: str, day: int, hms: str) -> float:
    from streams.ingest.timeparse import MONTHS
    mon = MONTHS.get(month.capitalize())
    if mon is None:
        raise ValueError(f"unknown month {month!r}")
    return ctx.times.local(year, mon, day, int(hms[0:2]), int(hms[3:5]), float(hms[6:]))


def parse(text: str, ctx: DecodeContext) -> tuple[dict, dict]:
    """Envelope fields and attributes of one syslog line, either RFC."""
    try:
        m = _3164_USUAL.match(text)
        if m is not None:
            pri, date, month, day, hms, host, service, pid = m.groups()
            facility, level = _PRIS.get(pri) or _pri(pri)
            ts = ctx.syslog_dates.get(date)
            if ts is None:
                ts = _date_3164(ctx, date, month, day, hms)
            fields = {"level": level, "ts": ts, "host": host, "service": service, "message": text[m.end():]}
            attributes = {"sluice.format": "rfc3164", "syslog.facility": facility}
            if pid:
                attributes["process.pid"] = pid
            return fields, attributes
        m = _5424.match(text)
        if m is not None:
            return parse_5424(text, ctx, m)
        return parse_3164(text, ctx)
    except (ValueError, IndexError, OverflowError) as exc:
        raise DecodeError("decode_error", f"syslog: {exc}") from None


def inner(fields: dict, attributes: dict, ctx: DecodeContext) -> Decoded:
    """Decode the message inside an envelope when its content is recognisable."""
    msg = fields["message"]
    program = (fields.get("service") or "").lower()
    first = msg[:1]
    if first == "C" and msg.startswith("CEF:"):
        cef_fields, cef_attrs = cef.parse(msg, ctx)
        merged = {k: v for k, v in fields.items() if k != "message"}
        merged.update(cef_fields)
        attributes.update(cef_attrs)
        return Decoded("security", merged, attributes)
    if auth.is_candidate(program, msg):
        hit = auth.parse(program, msg)
        if hit is not None:
            sec_fields, sec_attrs = hit
            fields.pop("level", None)
            fields.update(sec_fields)
            attributes.update(sec_attrs)
            kind = "security" if ctx.auth_as_security or ctx.stream == "security" else None
            return Decoded(kind, fields, attributes)
    if first == "{" and msg[-1:] == "}":
        try:
            obj = orjson.loads(msg)
        except orjson.JSONDecodeError:
            obj = None
        if type(obj) is dict:
            base = {k: v for k, v in fields.items() if k != "message"}
            base.update(obj)
            return Decoded(None, base, attributes)
    if program in _ACCESS_PROGRAMS:
        hit = apache.parse_access(msg, ctx)
        if hit is not None:
            acc_fields, acc_attrs = hit
            acc_fields.pop("ts", None)
            fields.update(acc_fields)
            attributes.update(acc_attrs)
    return Decoded(None, fields, attributes)


def _py_decode(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    text = utf8(value)
    fields, attributes = parse(text, ctx)
    return [inner(fields, attributes, ctx)]


decode = _py_decode
if _syslog is not None:
    # Bound even under SLUICE_PURE_PYTHON=1 (the tests compare both forms); the tables
    # are copied once, here.
    _syslog.bind(_py_decode, inner, _date_3164, _iso, Decoded, FACILITIES, SEVERITIES, _ACCESS_PROGRAMS)
    if auth.accelerated():
        decode = _syslog.decode


def _decode_with(parser, value: bytes, ctx: DecodeContext) -> list[Decoded]:
    """A forced syslog flavour: a parse failure is a decode error, not a fallback."""
    try:
        fields, attributes = parser(utf8(value), ctx)
    except (ValueError, IndexError, OverflowError) as exc:
        raise DecodeError("decode_error", f"syslog: {exc}") from None
    return [inner(fields, attributes, ctx)]


def decode_5424(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    return _decode_with(parse_5424, value, ctx)


def decode_3164(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    return _decode_with(parse_3164, value, ctx)


_BARE_TAG = re.compile(r"([^\s\[\]:]{1,64})(?:\[([^\]\s]{1,32})\])?: ")


def decode_auth(value: bytes, ctx: DecodeContext) -> list[Decoded]:
    """An auth line, in a syslog envelope or as a bare `program[pid]: message`."""
    text = utf8(value)
    if text[:1] == "<" or BARE_START.match(text):
        fields, attributes = parse(text, ctx)
    else:
        tag = _BARE_TAG.match(text)
        if tag is None:
            raise DecodeError("decode_error", "auth: no syslog header and no program tag")
        fields = {"service": tag.group(1), "message": text[tag.end():]}
        attributes = {"process.pid": tag.group(2)} if tag.group(2) else {}
    hit = auth.parse((fields.get("service") or "").lower(), fields.get("message") or "")
    if hit is None:
        raise DecodeError("decode_error", "auth: not a recognised authentication line")
    fields.pop("level", None)
    fields.update(hit[0])
    attributes.update(hit[1])
    return [Decoded("security", fields, attributes)]
