"""The C forms of the access log and logfmt decoders (streams/ingest/_textlog.c) give
exactly what the Python forms give: the same records (keys, order, value types), the
same exception (type, reason, detail), the same date memo; and the C detection
(`text_kind`) names a decoder only where the Python `sniff` picks that very decoder.

Compared on the sample corpus, the lines of test_apache.py / test_logfmt.py, the
benchmark's lines, and generated lines: pieces of both formats around the edges of
the C reading (quotes, escapes, `=` in values, empty values, Unicode blanks and
digits, line endings), byte-level mutations of real lines and arbitrary bytes.

The tests of the C form skip when the extension is not built (no C compiler when the
package was installed); the Python form then runs everywhere.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st

from schemas.errors import DecodeError
from streams.ingest import decoders
from streams.ingest.decoders import apache, logfmt
from streams.ingest.decoders.base import DecodeContext, Decoded
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest import corpus
from tests.unit.streams.ingest.accel_checks import bytes_kept, props, switched, typed
from tests.unit.streams.ingest.corpus import OBSERVED

needs_c = pytest.mark.skipif(
    apache._textlog is None,
    reason="streams.ingest._textlog is not built (no C compiler at install time): only the Python path runs")
PROPS = props(400, HealthCheck.filter_too_much)

C_ACCESS = apache.accelerated_access_decoder()
C_LOGFMT = logfmt.accelerated_decoder()
PY_ACCESS = apache.decode_access_py
PY_LOGFMT = logfmt.decode_py

# -- what the two forms are compared on ----------------------------------------------------




def outcome(fn, *args, **kwargs):
    try:
        return "ok", typed(fn(*args, **kwargs))
    except DecodeError as exc:
        return "DecodeError", exc.reason, exc.detail
    except Exception as exc:  # the two forms must raise the same thing
        return "raised", type(exc), str(exc)


class Pair:
    """A context for each form, fed the same lines: their memos must stay equal."""

    def __init__(self, zone: str = "UTC"):
        self.py = DecodeContext(OBSERVED, TimeParser(zone))
        self.c = DecodeContext(OBSERVED, TimeParser(zone))

    def check(self, py_fn, c_fn, value):
        expected = outcome(py_fn, value, self.py)
        actual = outcome(c_fn, value, self.c)
        assert actual == expected, value
        assert list(self.c.access_dates.items()) == list(self.py.access_dates.items())
        return actual

    def access(self, value: bytes):
        return self.check(PY_ACCESS, C_ACCESS, value)

    def logfmt(self, value: bytes):
        return self.check(PY_LOGFMT, C_LOGFMT, value)


PAIRS = {zone: Pair(zone) for zone in ("UTC", "Europe/Paris")}


class Spy:
    """A fallback that counts the lines handed to it."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def sniff_py(value: bytes, stream: str = "logs"):
    """decoders.sniff without the C detection."""
    saved, decoders._text_kind = decoders._text_kind, None
    try:
        return outcome(decoders.sniff, value, stream)
    finally:
        decoders._text_kind = saved


def check_sniff(value: bytes, stream: str = "logs") -> None:
    assert outcome(decoders.sniff, value, stream) == sniff_py(value, stream)
    kind = apache._textlog.text_kind(value)
    if kind:
        assert sniff_py(value, stream) == ("ok", typed((logfmt.decode, apache.decode_access)[kind - 1]))


def check_all(value: bytes) -> None:
    for pair in PAIRS.values():
        pair.access(value)
        pair.logfmt(value)
    check_sniff(value)
    check_sniff(value, "metrics")


# -- the lines of the tests, the corpus and the benchmark -------------------------------------

ACCESS_LINES = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    '::1 - "bob smith" [31/Dec/2025:23:59:59 -0500] "GET /a?q=\\"x\\" HTTP/1.1" 304 - "-" "ua \\"q\\""',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 1',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0530] "GET / HTTP/1.1" 200 5',
    '1.2.3.4 - - [31/Foo/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '203.0.113.9 - - [31/Dec/2025:23:59:40 +0000] "GET /v1/charges HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (X11; Linux x86_64)"',
    '1.2.3.4 ident "-" [31/Dec/2025:23:59:59 +0000] "POST /x HTTP/2.0" 502 0 "https://r.example/" "ua" rt=0.1 ',
    '1.2.3.4 - "" [31/Dec/2025:23:59:59 +0000] "BREW /pot HTCPCP/1.0" 418 - "-" "-"\r\n',
    '\ufeff1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET /é HTTP/1.1" 200 5 "-" "ünï \\\\ x"\n',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5 "-" "-"\u2003\u3000',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5\u2003extra\u00a0',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5٣',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" ٢٠٠ 5',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET  / HTTP/1.1" 200 5',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1 x" 200 5',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "" - -',
    '1.2.3.4\u00a0- - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    'é - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 2000 5',
    '1.2.3.4 - - [] "GET / HTTP/1.1" 200 5',
    '1.2.3.4 - - [x] "a\\',
    'Dec 31 23:59:59 [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '2025-12-31 23:59:59 x [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    'a=b - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '[::1] - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '1.2.3.4 - "frank" [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '1.2.3.4 - a"" [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
    '1.2.3.4\x1d-\x1f- [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
]
LOGFMT_LINES = [
    'a=1 b="two words" c', r'msg="say \"hi\"\n" path=C:\dir', "k= empty=", "  lead=1   trail=2  ",
    'unicode="héllo ✓" tab="a\tb"', "dotted.key=v at@sign=w", r'm="a\qb"', "no pairs at all",
    'ts=2025-12-31T23:59:59Z level=info msg="card declined, retry" verbose empty= n=1=2', 'm="a\\"b"', 'a "b"', "=a",
    'ts=2026-01-01T00:00:00.123Z level=info service=ledger host=pay-01 '
    'msg="charge authorized order_id=ord_00000001 amount=12.34 currency=EUR" duration_ms=42',
    'k="v"x=1', 'k="a""b"', 'k=""', 'a=1 a=2 b=3 a=4', "a=1\u2003b=2\u00a0c=3\x1cd=4\x85e\x1ff=5\x0bg", "é=ü ü", "a=1\n", "a=1\r\n",
    "\ufeffa=1", 'k="unterminated', 'x==1 y="a=b"', 'x=="v"', '="v"', 'k=\xa0"v"', "a=b\u2003=c", "=", "",
]


def _corpus_lines(fmt: str) -> list[bytes]:
    return [line for path in corpus.samples(fmt) for line in corpus.records(path)]


def _bench_lines(n: int, seed: int) -> list[bytes]:
    from benchmarks.bench_ingest import record
    rnd = random.Random(seed)
    lines = []
    while len(lines) < n:
        value, _ = record(rnd, len(lines))
        if value[:1] != b"{" and value[:1] != b"<":
            lines.append(value)
    return lines


FIXED = ([line.encode() for line in ACCESS_LINES + LOGFMT_LINES] + _corpus_lines("apache") + _corpus_lines("logfmt")
         + _corpus_lines("syslog") + _corpus_lines("cef") + _corpus_lines("auth"))


@needs_c
@pytest.mark.parametrize("value", FIXED)
def test_fixed_lines(value):
    check_all(value)
    check_all(value)  # the date memo now holds the line's date
    for other in (value + b"\n", value + b"\r\n", b"\xef\xbb\xbf" + value, value + b"\xff", b"\xc3" + value):
        check_all(other)


@needs_c
@pytest.mark.parametrize("seed", [7, 11])
def test_benchmark_lines_are_read_in_c(seed):
    lines = _bench_lines(400, seed)
    access = apache._textlog.AccessDecoder(Spy(PY_ACCESS), apache._access_time, apache._unescape, Decoded)
    lf = apache._textlog.LogfmtDecoder(Spy(PY_LOGFMT), Decoded)
    kinds = set()
    for value in lines:
        check_all(value)
        kind = apache._textlog.text_kind(value)
        kinds.add(kind)
        pair = Pair()
        pair.check(PY_ACCESS if kind == 2 else PY_LOGFMT, access if kind == 2 else lf, value)
    assert kinds == {1, 2}
    assert access.fallback.calls == 0 and lf.fallback.calls == 0


@needs_c
def test_the_c_forms_are_the_module_functions_unless_pure_python():
    if os.environ.get("SLUICE_PURE_PYTHON") == "1":
        assert apache.decode_access is PY_ACCESS and logfmt.decode is PY_LOGFMT and decoders._text_kind is None
    else:
        assert type(apache.decode_access).__name__ == "AccessDecoder" and apache.decode_access.fallback is PY_ACCESS
        assert type(logfmt.decode).__name__ == "LogfmtDecoder" and logfmt.decode.fallback is PY_LOGFMT
        assert decoders.FORMATS["access"] is apache.decode_access and decoders.FORMATS["logfmt"] is logfmt.decode


def test_sluice_pure_python_selects_the_python_forms():
    code = ("from streams.ingest import decoders; from streams.ingest.decoders import apache, logfmt; "
            "print(type(apache.decode_access).__name__, type(logfmt.decode).__name__, decoders._text_kind is None)")
    pure, default = switched(code)
    assert pure == ["function", "function", "True"]
    built = apache._textlog is not None
    assert default == (["AccessDecoder", "LogfmtDecoder", "False"] if built else ["function", "function", "True"])


# -- generated lines ---------------------------------------------------------------------------

BLANKS = [" ", "  ", "\t", "\x1c", "\xa0", "\u2003", "\u3000", "\x85", "\n"]


@st.composite
def _pieces(draw, pieces: list[tuple[list[str], list[str]]]) -> str:
    """One usual piece after the other, each now and then replaced by one of its edges:
    lines near the usual line, on both sides of what the C form reads."""
    rnd = random.Random(draw(st.integers(0, 2**32)))  # hypothesis' own draws favour the edges too much
    edge = draw(st.sampled_from([0.0, 0.05, 0.15]))
    return "".join(rnd.choice(edges if edges and rnd.random() < edge else usual) for usual, edges in pieces)


BODIES = ["GET /v1/charges HTTP/1.1", "GET / HTTP/2.0", "-", "Mozilla/5.0 (X11; Linux x86_64)",
          "https://shop.example/checkout", "GET /é HTTP/1.1"]
ODD_BODIES = ["", "GET  /x HTTP/1.1", "GET /x HTTP/1.1 y", 'GET /q=\\"x\\" HTTP/1.1', "a\\\\b",
              'a\\\\\\"b', "\\x16\\x03", "a\\", "a\\ü", "x\ny", 'x"y', "GET /x HTTP", "GET /x http/1.1"]
ACCESS_PIECES = _pieces([
    ([""], ["\ufeff", " "]),
    (["1.2.3.4", "::1", "203.0.113.9", "[::1]"], ["é", "a=b", "x\u00a0y", "", '"a b"', "Dec", "2025-12-31"]),
    ([" "], ["  ", "\t", "\u2003"]),
    (["-", "ident"], ['"-"', "", "é"]),
    ([" "], ["\t"]),
    (["-", "frank"], ['"-"', '""', '"bob', '"bob smith"', 'a"', "é", "[x]"]),
    ([" ["], ["[", " "]),
    (["31/Dec/2025:23:59:59 +0000", "31/Dec/2025:23:59:59 -0700", "01/Jan/2026:00:59:59 +0100"],
     ["31/Dec/2025:23:59:59", "31/Foo/2025:23:59:59 +0000", "99/Dec/2025:23:59:59 +0000", "x", "", "a]b",
      "31/Dec/2025:23:59:59.5 +0000", "31/Dec/١٢٣٤:23:59:59 +0000", "01/Jan/2026:00:59:59 +01:00", "é"]),
    (['] "'], [']"', '] x "', '] ']),
    (BODIES, ODD_BODIES),
    (['" '], ['"', "", '"  ']),
    (["200", "404", "502", "301", "-"], ["2000", "20", "٢٠٠", "", "1xx"]),
    ([" "], ["", "  "]),
    (["5120", "0", "-"], ["", "12٣", "x", "5 6", "٣"]),
    (["", ' "-" "-"', ' "https://r.example/" "curl/8.0"', ' "-" "Mozilla/5.0 (X11; Linux x86_64)"'],
     [' "-"', ' "-" "', ' "-""-"', ' "a\\"b" "c\\\\"', ' "é" "ü"', ' "" ""', ' "x" "y\\']),
    ([""], [" ", ' "10.1.2.3" rt=0.003', "\u2003", " extra\u00a0", "\x1c", ' "a" "b" "c"', ' "unclosed', "x",
            "\n", ' "-"', " rt=0.1 \u3000", "\u2003x\u2003"]),
    (["", "\n"], ["\r\n", "\r", "\n\n"]),
])
ACCESS = st.one_of(ACCESS_PIECES, ACCESS_PIECES, ACCESS_PIECES,
                   st.from_regex(apache.ACCESS, fullmatch=True, alphabet=st.characters(max_codepoint=127)),
                   st.from_regex(apache.ACCESS, fullmatch=True))
VALUES = ["1", "v", "2026-01-01T00:00:00.123Z", '"two words"', '"a=b c"', "a=b", "1=2=3", "héllo", '"ü ✓"', "",
          '""', '"tab\there"']
ODD_VALUES = ["=", "==", '"\\"q\\""', '"a\\nb"', '"a\\', '"unterminated', "x\u00a0y", 'a"b', '"a"b"']
PAIR = _pieces([(["a", "k", "ts", "level", "msg", "duration_ms", "k.v", "a@b", "x-y"], ["é", "=", "", "a b"]),
                (["="], ["", "==", " ="]), (VALUES, ODD_VALUES), ([" "], BLANKS + ["", '"'])])
LOGFMT = st.one_of(
    st.lists(PAIR, max_size=8).map("".join), st.lists(PAIR, max_size=8).map("".join),
    st.lists(st.sampled_from(["a", "k", "ts", "é", "=", "=", '"', '"', "\\", 'm="x y"', "k=v ", *BLANKS]),
             max_size=16).map("".join),
    st.text(max_size=40),
)


@needs_c
@PROPS
@given(ACCESS, st.sampled_from(["UTC", "Europe/Paris"]))
@example('1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5 "-" "-"', "UTC")
def test_generated_access_lines(line, zone):
    value = line.encode()
    PAIRS[zone].access(value)
    PAIRS[zone].logfmt(value)
    check_sniff(value)


@needs_c
@PROPS
@given(LOGFMT)
def test_generated_logfmt_lines(line):
    value = line.encode()
    PAIRS["UTC"].logfmt(value)
    PAIRS["UTC"].access(value)
    check_sniff(value)


REAL = [line.encode() for line in ACCESS_LINES[:8] + LOGFMT_LINES[:13]]
MUTATIONS = st.lists(st.tuples(st.sampled_from(["insert", "replace", "delete"]), st.integers(0, 300),
                               st.sampled_from([b" ", b'"', b"\\", b"=", b"[", b"]", b"-", b"\xff", b"\xc3",
                                                b"\xc2\xa0", b"\xe2\x80\x83", b"\xe2\x80", b"\n", b"\x00", b"\xef\xbb\xbf",
                                                b"7", b"\xd9\xa3", b"a"])), min_size=1, max_size=4)


def _mutated(value: bytes, edits) -> bytes:
    for op, at, piece in edits:
        at = at % (len(value) + 1)
        if op == "insert":
            value = value[:at] + piece + value[at:]
        elif op == "replace":
            value = value[:at] + piece + value[at + len(piece):]
        else:
            value = value[:at] + value[at + len(piece):]
    return value


@needs_c
@PROPS
@given(st.sampled_from(REAL), MUTATIONS)
def test_mutated_lines(value, edits):
    check_all(_mutated(value, edits))


@needs_c
@PROPS
@given(st.binary(max_size=120))
def test_arbitrary_bytes(value):
    check_all(value)


# -- sniffing ------------------------------------------------------------------------------------

STARTS = st.one_of(
    st.from_regex(logfmt.DETECT).map(str.encode), st.tuples(
        st.sampled_from(["", "a", "@", "_", "é", "1", "Dec", "2025", "x" * 62, "k" * 70]),
        st.sampled_from(["", ".", "-", "/", "@", "é", "\u00a0", " "]), st.sampled_from(["=", "==", "", ":"]),
        st.sampled_from(["", '"', "=", "x", " ", "\n", "é", "\xff"]),
        st.sampled_from(["", " 31 23:59:59 h", "/12/31 23:59:59 [warn] 1#0: x", "-12-31T23:59:59 h",
                         ' - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5']),
    ).map("".join).map(str.encode),
)


@needs_c
@PROPS
@given(STARTS, st.sampled_from(["logs", "metrics"]))
def test_text_kind_names_the_decoder_sniff_picks(value, stream):
    check_sniff(value, stream)


@needs_c
@pytest.mark.parametrize("value", [
    b"a" * 63 + b"=", b"a" * 63 + b"==", b"a" * 64 + b"=1", b"a" * 62 + b"==", b"a" * 62 + b"=\xc3\xa9",
    b"k=\xff", b"CEF:0|x", b"#k=v", b"[k=v]", b"Dec 31 23:59:59 host a=b", b" " * 299 + b"[",
    b"1.2.3.4 - - " + b"x" * 300 + b' [d] "r" 200 5', b'1.2.3.4 - - [' + b"d" * 9000 + b'] "r" 200 5',
    b'1.2.3.4 - - [d] "' + b"r" * 8200 + b'" 200 5', b'1.2.3.4 - - [d] "r" 200 5', b"2025/12/31 1.2 [x] \"r\" 200 5",
    b'1\xd9\xa3.2 - - [d] "r" 200 5', b"\xd9\xa3\xd9\xa3\xd9\xa3\xd9\xa3/12/31 23:59:59 [warn] 1#0: x",
])
def test_text_kind_at_its_edges(value):
    check_sniff(value)
    check_sniff(value, "metrics")


@PROPS
@given(st.binary(max_size=12).map(lambda b: bytes(b"\t\n\x0b\x0c\r \x1c\x85\xa0a"[c % 10] for c in b)))
def test_the_blank_record_check_is_strip(value):
    blank = not value.strip()
    try:
        decoders.decode(value, "text", DecodeContext(OBSERVED, TimeParser()))
    except DecodeError as exc:
        assert blank == (exc.reason == "empty")
    else:
        assert not blank


# -- contexts, calls, memory -------------------------------------------------------------------


@needs_c
@pytest.mark.parametrize("call", [
    lambda fn, v, ctx: fn(value=v, ctx=ctx),
    lambda fn, v, ctx: fn(v, ctx=ctx),
    lambda fn, v, ctx: fn(v),
    lambda fn, v, ctx: fn(v, ctx, 1),
    lambda fn, v, ctx: fn(bytearray(v), ctx),
    lambda fn, v, ctx: fn(v.decode(), ctx),
    lambda fn, v, ctx: fn(memoryview(v), ctx),
    lambda fn, v, ctx: fn(v, None),
])
def test_unusual_calls_are_the_python_forms(call):
    for value in (ACCESS_LINES[5].encode(), LOGFMT_LINES[12].encode()):
        for py, c in ((PY_ACCESS, C_ACCESS), (PY_LOGFMT, C_LOGFMT)):
            ctx = DecodeContext(OBSERVED, TimeParser())
            assert outcome(call, c, value, ctx) == outcome(call, py, value, ctx)


@needs_c
def test_unusual_contexts_are_the_python_forms():
    from collections import OrderedDict
    value = ACCESS_LINES[5].encode()
    stamp = "31/Dec/2025:23:59:40 +0000"
    for make in (lambda: DecodeContext(OBSERVED, None),  # a memo miss fails in the helper: the same error
                 lambda: DecodeContext(OBSERVED, TimeParser(), access_dates=OrderedDict()),
                 lambda: DecodeContext(OBSERVED, TimeParser(), access_dates={stamp: 1.5}),  # the memo is read
                 lambda: DecodeContext(OBSERVED, TimeParser(), access_dates={stamp: None}),
                 lambda: DecodeContext(OBSERVED, TimeParser(), access_dates={stamp: "x"})):
        py, c = make(), make()
        assert outcome(C_ACCESS, value, c) == outcome(PY_ACCESS, value, py)
        assert list(c.access_dates.items()) == list(py.access_dates.items())


@needs_c
def test_the_memo_limit(monkeypatch):
    monkeypatch.setattr(apache, "DATES_LIMIT", 3)
    pair = Pair()
    for second in range(12):
        pair.access(f'1.2.3.4 - - [31/Dec/2025:23:59:{second:02d} +0000] "GET / HTTP/1.1" 200 5'.encode())
        assert len(pair.c.access_dates) <= 4


@needs_c
def test_logfmt_keys_are_shared_between_records():
    a = C_LOGFMT(b"ts=1 level=info msg=x", None)[0].fields
    b = C_LOGFMT(b'ts=2 level=warn msg="y z"', None)[0].fields
    assert all(k1 is k2 for k1, k2 in zip(a, b, strict=True))


@needs_c
def test_no_memory_is_kept_per_call():
    """Every path, declines and errors included, run over and over: memory does not grow."""
    lines = (_bench_lines(20, 5) + [line.encode() for line in ACCESS_LINES + LOGFMT_LINES]
             + [b"\xff" + line.encode() for line in ACCESS_LINES[:3] + LOGFMT_LINES[:3]])
    ctx = DecodeContext(OBSERVED, TimeParser())

    def run(n):
        for i in range(n):
            value = lines[i % len(lines)]
            for fn in (C_ACCESS, C_LOGFMT):
                try:
                    fn(value, ctx)
                except DecodeError:  # the errors are part of what is run
                    pass
            decoders.sniff(value, "logs")

    grown = bytes_kept(run, 3000, 20000)
    assert grown < 64 * 1024, f"{grown} bytes kept after 20,000 calls"
