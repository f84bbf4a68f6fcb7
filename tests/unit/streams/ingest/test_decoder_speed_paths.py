"""The decoders' shortcuts read exactly what their general roads read: the usual
RFC 3164 line in one regex, logfmt split at quotes and blanks, auto-detection in one
regex, the access log detection, the inline RFC 5424 time and the per-batch date
memos. Each property compares a shortcut with the road it bypasses, on input built
around the edges of the shortcut."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.errors import DecodeError
from streams.ingest import decoders
from streams.ingest.decoders import apache, logfmt, syslog
from streams.ingest.decoders.base import DecodeContext
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.corpus import OBSERVED

PROPS = settings(max_examples=int(os.environ.get("SLUICE_PROP_EXAMPLES", "150")) * 2, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
BLANKS = [" ", "  ", "\t", "\n", "\x1c", "\xa0", "\u2003"]  # \s and str.split() blanks beyond ASCII too


def _outcome(parse, *args):
    try:
        result = parse(*args)
    except DecodeError as exc:
        return "error", exc.reason, exc.detail
    return result if result is None else [list(part.items()) for part in result]


# -- logfmt --------------------------------------------------------------------------
def _regex_pairs(text: str) -> dict[str, str]:
    """logfmt.parse's general road, the _PAIR loop."""
    fields = {}
    for key, raw in logfmt._PAIR.findall(text):
        fields[key] = "true" if not raw else logfmt._unquote(raw[1:]) if raw[1:2] == '"' else raw[1:]
    return fields


LOGFMT = st.lists(st.sampled_from(["a", "k", "ts", "é", "=", "=", '"', '"', "\\", 'm="x y"', "k=v ", *BLANKS]),
                  max_size=16).map("".join)


@PROPS
@given(LOGFMT)
def test_logfmt_split_reads_what_the_regex_reads(text):
    fields = logfmt._split(text)
    if fields is not None:
        assert list(fields.items()) == list(_regex_pairs(text).items())


def test_logfmt_split_takes_the_usual_line():
    line = 'ts=2025-12-31T23:59:59Z level=info msg="card declined, retry" verbose empty= n=1=2'
    assert logfmt._split(line) == {"ts": "2025-12-31T23:59:59Z", "level": "info", "msg": "card declined, retry",
                                   "verbose": "true", "empty": "", "n": "1=2"}
    assert logfmt._split('m="a\\"b"') is None and logfmt._split('a "b"') is None and logfmt._split("=a") is None


# -- RFC 3164 ------------------------------------------------------------------------
def _general_3164(text: str, ctx: DecodeContext):
    try:
        return syslog.parse_3164(text, ctx)
    except (ValueError, IndexError, OverflowError) as exc:
        raise DecodeError("decode_error", f"syslog: {exc}") from None


SEPARATORS = st.sampled_from([" ", " ", "  ", "", "\t"])
LINES_3164 = st.tuples(
    st.sampled_from(["<13>", "<38>", "<191>", "<013>", "<999>", "<1a>", "", "<>"]),
    st.sampled_from(["Dec", "Jan", "Feb", "dec", "Foo", "De"]), SEPARATORS,
    st.sampled_from(["31", "1", "29", "30", "00", "99", "1 2024"]), SEPARATORS,
    st.sampled_from(["23:59:59", "00:00:00", "24:00:00", "12:60:00", "23:59:59.5", "1:2:3"]), SEPARATORS,
    st.sampled_from(["host", "fe80::1", "a[1]", "x" * 70, "", "sshd[42]:", "é"]), SEPARATORS,
    st.sampled_from(["sshd[42]:", "app:", "su:", "x" * 65 + ":", "a[b c]:", "t[" + "9" * 33 + "]:", "app", ""]),
    st.sampled_from(["", " ", " msg", "msg", " : x", " Failed password for root from 1.2.3.4 port 22 ssh2"]),
).map("".join)


@PROPS
@given(LINES_3164)
def test_the_usual_3164_line_reads_as_parse_3164_reads_it(line):
    assert _outcome(syslog.parse, line, DecodeContext(OBSERVED, TimeParser())) == \
        _outcome(_general_3164, line, DecodeContext(OBSERVED, TimeParser()))


def test_the_usual_3164_line_takes_the_shortcut():
    assert syslog._3164_USUAL.match("<38>Dec 31 23:59:59 bastion-01 sshd[42]: Accepted publickey for a")
    assert syslog._3164_USUAL.match("<13>Jan  1 00:00:01 h app: x")


# -- auto-detection ------------------------------------------------------------------
def _edited(pieces: list[str], others: list[str]):
    """`pieces` joined, with up to two of them replaced by one of `others` (or dropped)."""
    def edit(edits: list[tuple[int, str]]) -> str:
        out = list(pieces)
        for i, other in edits:
            out[i] = other
        return "".join(out)
    return st.lists(st.tuples(st.integers(0, len(pieces) - 1), st.sampled_from(["", *others])), max_size=2).map(edit)


STARTS = st.one_of(
    st.from_regex(logfmt.DETECT), st.from_regex(syslog.BARE_START), st.from_regex(apache.NGINX_ERROR),
    _edited(["2025/12/31", " ", "23:59:59", " ", "[warn]", " ", "1#0", ": ", "*5 ", "msg"],
            [" ", ":", "#", "[Warn]", "2025/1/31", "1#", "2025-12-31", "T"]),
    _edited(["Dec", " ", "31", " ", "23:59:59", " host"], ["Dec 1", "dec", "  ", "1", "T", "2025-12-31"]),
    _edited(["@ts", "=", '"', "x"], ["a.b/c-d", "1", " ", "=", "é", "\n"]),
)


@PROPS
@given(STARTS)
def test_one_regex_detects_what_the_three_detected_in_turn(start):
    m = decoders._BY_START.match(start)
    in_turn = [name for name, regex in (("logfmt", logfmt.DETECT), ("syslog", syslog.BARE_START),
                                        ("error", apache.NGINX_ERROR)) if regex.match(start)]
    assert (m.lastgroup if m else None) == (in_turn[0] if in_turn else None)


ACCESS_LINES = st.one_of(
    st.from_regex(apache.ACCESS),
    st.tuples(st.sampled_from(["1.2.3.4", "::1", "", "a b"]), st.sampled_from([" - - ", ' - "x y" ', " - ", " a b "]),
              st.sampled_from(["[31/Dec/2025:23:59:59 +0000]", "[]", "[x] ", "[a]b]"]),
              st.sampled_from([' "GET / HTTP/1.1"', ' "a\\"b"', ' "', " -", ' "x"']),
              st.sampled_from([" 200 5", " - -", " 200", " 2000 1", " 200 5 \"r\" \"a\"", " 404 x", "\n 200 1"]),
              st.sampled_from(["", " extra", "\n", ' "unclosed'])).map("".join),
)


@PROPS
@given(ACCESS_LINES)
def test_access_detection_matches_where_the_access_regex_does(line):
    assert bool(apache.ACCESS_START.match(line)) == bool(apache.ACCESS.match(line))


# -- times ---------------------------------------------------------------------------
STAMPS = st.one_of(
    st.from_regex(r"\A\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{0,9})?([Zz]|[+-]\d\d:\d\d)?\Z"),
    st.tuples(st.sampled_from(["2025-12-31", "2024-02-29", "2025-02-30", "2025-13-01"]), st.sampled_from("Tt x"),
              st.sampled_from(["23:59:59", "00:00:00", "24:00:00"]), st.sampled_from(["", ".", ".."]),
              st.text("0123456789١e", max_size=10), st.sampled_from(["Z", "z", "", "+01:00", "-0530", "Zx"]),
              ).map("".join),
    st.sampled_from(["-", "x" * 25 + "Z"]),
)


@PROPS
@given(STAMPS)
@example("2025-12-31T23:59:59.129Z")
@example("2025-12-31T23:59:59.Z")
@example("2025-12-31T23:59:59.١Z")
def test_the_inline_5424_time_is_timeparser_iso(stamp):
    def iso(times: TimeParser):
        try:
            return times.iso(stamp)
        except ValueError:
            return stamp
    ctx = DecodeContext(OBSERVED, TimeParser("Europe/Paris"))
    assert syslog._iso(stamp, ctx) == iso(TimeParser("Europe/Paris"))  # cold
    assert syslog._iso(stamp, ctx) == iso(TimeParser("Europe/Paris"))  # the second is cached


POOL = st.sampled_from([
    b"<38>Dec 31 23:59:59 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2",
    b"<13>Feb 29 12:00:00 h app: leap", b"<13>Feb 30 12:00:00 h app: no such day", b"<13>Jan  1 00:00:01 h a: x",
    b"Dec 31 23:59:59 h app: bare", b"<13>Dec 31 2024 23:59:59 h app: with a year",
    b'1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    b'1.2.3.4 - - [31/Dec/2025:23:59:59 +0530] "GET / HTTP/1.1" 200 5',
    b'1.2.3.4 - - [31/Foo/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    b'<13>Dec 31 23:59:59 h nginx: 1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
])


@PROPS
@given(st.lists(POOL, min_size=2, max_size=12), st.sampled_from(["UTC", "Europe/Paris"]))
def test_a_batch_context_reads_each_line_as_a_fresh_one_does(lines, zone):
    shared = DecodeContext(OBSERVED, TimeParser(zone))
    for line in lines:
        fresh = DecodeContext(OBSERVED, TimeParser(zone))
        assert _decoded(line, shared) == _decoded(line, fresh)


def _decoded(value: bytes, ctx: DecodeContext):
    try:
        return [(r.kind, list(r.fields.items()), list((r.attributes or {}).items()))
                for r in decoders.decode(value, decoders.AUTO, ctx)]
    except DecodeError as exc:
        return exc.reason, exc.detail
