"""The C form of the syslog decoder and of auth.parse (streams/ingest/_syslog.c) gives
exactly what the Python forms give: the same Decoded records (keys, order, value
types and values), the same DecodeError (reason and detail), the same date memo and
time caches, on the test corpora, the benchmark's syslog and auth lines, and lines
generated around the shapes the C code reads, arbitrary bytes included.

The tests of the C form skip when the extension is not built (no C compiler when the
package was installed); the Python form then runs everywhere.
"""

from __future__ import annotations

import contextlib
import os
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from benchmarks.bench_ingest import record
from schemas.errors import DecodeError
from streams.ingest.decoders import auth, syslog
from streams.ingest.decoders.base import DATES_LIMIT, DecodeContext
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.accel_checks import bytes_kept, props, switched, typed
from tests.unit.streams.ingest.corpus import CORPUS, OBSERVED, records, samples

needs_c = pytest.mark.skipif(
    auth._syslog is None,
    reason="streams.ingest._syslog is not built (no C compiler at install time): only the Python path runs")
PROPS = props()

# -- what the two forms are compared on ----------------------------------------------------




def outcome(fn, *args):
    try:
        return "ok", typed(fn(*args))
    except DecodeError as exc:
        return "DecodeError", exc.reason, exc.detail, str(exc), exc.__cause__, exc.__suppress_context__
    except Exception as exc:  # the two forms must raise the same thing
        return "raised", type(exc), str(exc)


@contextlib.contextmanager
def pure_python():
    """The Python forms throughout: syslog.inner calls auth.parse through the module."""
    saved = auth.parse
    auth.parse = auth._py_parse
    try:
        yield
    finally:
        auth.parse = saved


CONTEXTS = {
    "utc": dict(times={}),
    "paris": dict(times={"timezone": "Europe/Paris"}),
    "logs_kept": dict(times={}, auth_as_security=False),
    "security_stream": dict(times={}, auth_as_security=False, stream="security"),
    "new_year": dict(times={}, observed=OBSERVED - 20.0),  # 2025-12-31T23:59:50Z
}


class Pair:
    """A DecodeContext for each form, fed the same records; their memos compared after each."""

    def __init__(self, times, observed=OBSERVED, **kw):
        self.py = DecodeContext(observed, TimeParser(**times), **kw)
        self.c = DecodeContext(observed, TimeParser(**times), **kw)

    def check(self, value: bytes, c_form=None):
        with pure_python():
            expected = outcome(syslog._py_decode, value, self.py)
        actual = outcome(c_form or auth._syslog.decode, value, self.c)
        assert actual == expected, value
        assert list(self.c.syslog_dates.items()) == list(self.py.syslog_dates.items())
        assert self.c.times.iso_cache == self.py.times.iso_cache
        return actual


def same_auth(program, message):
    expected = outcome(auth._py_parse, program, message)
    assert outcome(auth._syslog.auth_parse, program, message) == expected, (program, message)
    return expected


def pairs():
    return {name: Pair(**kw) for name, kw in CONTEXTS.items()}


# -- the lines of the tests, the corpora and the benchmark ----------------------------------

AUTH_MESSAGES = [
    "Failed password for root from 1.2.3.4 port 22 ssh2",
    "Failed password for invalid user  from 1.2.3.4 port 22 ssh2",
    "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
    "Failed password for invalid user from 1.2.3.4 port 22",
    "Accepted keyboard-interactive/pam for alice from fe80::1%eth0 port 2 ssh2",
    "Accepted publickey for bob from 203.0.113.9 port 50022 ssh2: ED25519 SHA256:x1",
    "Accepted publickey for bob from 203.0.113.9 port 50022 ssh: RSA SHA256:abc",
    "Accepted publickey for bob from 203.0.113.9 port 50022 ssh2: RSA",
    "Accepted publickey for bob from x from 1.2.3.4 port 9 port 7 ssh2",
    "Accepted password for a b from c port 1x",
    "Failed password for a\nb from 1.2.3.4 port 22 ssh2", "Failed password for invalid user a\nb from 1.2.3.4 port 22",
    "Failed none for  from  port 1",
    "Invalid user oracle from 10.0.0.9", "Invalid user oracle from ", "Invalid user oracle from  port 1",
    "Invalid user oracle from 10.0.0.9 port 4242",
    "invalid user oracle from 10.0.0.9 port x",
    "Invalid user  from  from 1.1.1.1 port 2",
    "Invalid user a\nb from 1.1.1.1 port 2",
    "error: maximum authentication attempts exceeded for invalid user a from 1.2.3.4 port 5 ssh2 [preauth]",
    "Connection closed by authenticating user root 1.2.3.4 port 22 [preauth]",
    "Did not receive identification string from 1.2.3.4 port 22",
    "Server listening on :: port 22.",
    "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
    "pam_unix(sshd:session): session closed for user alice",
    "pam_unix(su:session): session opened for user root by alice(uid=1000)",
    "pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)  ",
    "pam_unix(cron:session): session opened for user root by ",
    "pam_unix(cron:session): session opened for user root(uid=0) by(uid=0)",
    "pam_unix(cron:session): session opened for user (uid=0)(uid=0) by (uid=0)(uid=1)",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.6.7.8  user=root",
    "pam_unix(passwd:chauthtok): password changed for alice",
    "pam_unix(sshd:session): session opened for user alice\n",
    "pam_unix(sshd:session): session opened for user alice\nby x",
    "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.6.7.8  user=root",
    "message repeated 2 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
    "  alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
    "carol : user NOT in sudoers ; TTY=pts/2 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
    "dave : PWD=/srv ; USER=postgres ; COMMAND=/usr/bin/psql -c select 1",
    "dave : PWD=/a ; USER=x ; b ; USER=y ; COMMAND=c",
    "dave : TTY=pts/1 ; PWD=/srv ; USER=root ; GROUP=adm ; TSID=000001 ; ENV=A=1 B=2 ; COMMAND=/bin/ls",
    "dave : TTY=pts/1 ; PWD=/srv ; USER=root ; ENV=A=1 ; COMMAND=x ; COMMAND=y",
    "dave : TTY=pts/1 ; PWD=/srv ; USER=root ; TSID=1 ; COMMAND=list\nnext",
    "dave :  ; TTY=pts/1 ; PWD=/srv ; USER=root ; COMMAND=x",
    "dave : TTY= ; PWD=/srv ; USER=root ; COMMAND=x",
    "dave : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/srv ; USER=root ; COMMAND=/bin/sh",
    "unable to resolve host x",
    "(to root) alice on pts/0", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure",
    "New session 4 of user alice.", "new user: name=bob, UID=1001", "password for 'bob' changed by 'root'",
    "Failed password for rööt from 1.2.3.4 port 22 ssh2", "", "CEF:0|a|b|1|x|y|5|src=1.2.3.4",
    '{"a": 1, "msg": "json"}', '{"not": json}', '1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] "GET / HTTP/1.1" 200 5',
]
PROGRAMS = ["sshd", "sshd-session", "SSHD", "sudo", "doas", "su", "login", "cron", "systemd-logind", "useradd",
            "passwd", "nginx", "app", "", "sshd-auth", "unix_chkpwd", "Sudo"]


def _fixed_lines() -> list[bytes]:
    lines = [
        b"<13>Jan  1 10:00:00 h app: x", b"<13>Dec 31 23:59:59 sshd[42]: hello", b"<13>Dec 31 23:59:59 fe80::1 app: hello",
        b"<192>Dec 31 23:59:59 h a: x", b"<13>Foo 31 23:59:59 h a: x", b"<13>1 bad", b"<11>Dec 31 23:59:59 h app: x",
        b'<165>1 2025-12-31T23:59:58Z host app - - [id@1 a="1" b="x\\"y"][empty@2] msg',
        b'<165>1 2025-12-31T23:59:58.123Z host app 12 ID47 [meta@32473 region="eu-west-1"] m',
        b'<165>1 2025-12-31T23:59:58.123Z host app 12 ID47 [a b="1"][c d="\\]\\\\\\x"] \xef\xbb\xbfm\xc3\xa9',
        b"<165>1 2025-12-31T23:59:58.Z h a - - - m", b"<165>1 2025-12-31T23:59:58.1\xd9\xa1Z h a - - - m",
        b"<165>1 2025-12-31t23:59:58.5z h a - - - m", b"<165>1 2025-12-31T23:59:58+01:00 h a - - -",
        b"<165>1 not-a-time h a - - - m", b"<165>1 - - - - - - m", b"<165>1 - - - - -", b"<165>1 - - - - - [x",
        b'<165>1 - h a - - [x a="1"] [y b="2"]', b'<165>1 - h a - - [x a="1" ]m', b'<165>1 - h a - - [x a="\\\n"]',
        b'<165>1 - h a - - [x a="1"\xc2\xa0]m', b'<165>1 - h a - - [x a="1"][y b="2"\xc2\xa0]m', b'<165>1 - h a - - [x\xc2\xa0a="1"]m', b'<165>1 - h\xc2\xa0a - - - m',
        b"<165>10 - h a - - - m", b"<165>100 - h a - - - m", b"<165>1 - h a - -\t- m", b"<0>1 - h a - - -x",
        b"<013>Dec 31 23:59:59 h app: leading zeros", b"<1a>Dec 31 23:59:59 h app: x", b"<>x", b"<1234>Dec",
        b"<13>Feb 29 12:00:00 h app: leap", b"<13>Feb 30 12:00:00 h app: no such day", b"<13>dec 31 23:59:59 h a: x",
        b"<13>Dec 31 2024 23:59:59 h app: with a year", b"Dec 31 23:59:59 h app: bare", b"<13>Dec  1 00:00:00 h a:",
        b"<13>Dec   1 00:00:00 h a: x", b"<13>Dec 1 24:00:00 h a: x", b"<13>Dec 1 23:60:00 h a: x",
        b"<13>Dec 31 23:59:59 h a[]: x", b"<13>Dec 31 23:59:59 h a[1 2]: x", b"<13>Dec 31 23:59:59 h a[" + b"9" * 33
        + b"]: x", b"<13>Dec 31 23:59:59 h " + b"t" * 65 + b": x", b"<13>Dec 31 23:59:59 h " + b"t" * 64 + b": x",
        b"<13>Dec 31 23:59:59 h a:x", b"<13>Dec 31 23:59:59 h a:\tx", b"<13>Dec 31 23:59:59 h\xc3\xa9 a: x",
        b"<13>Dec 31 23:59:59 h a: caf\xc3\xa9", b"<13>Dec 31 23:59:59 h a: bad \xff byte", b"\xff<13>",
        b"<13>Dec 31 23:59:59 h a: x\r\n", b"<13>Dec 31 23:59:59 h a: x\n\n", b"<13>Dec 31 23:59:59 h a: x\r",
        b"\xef\xbb\xbf<13>Dec 31 23:59:59 h a: bom", b"\xef\xbb\xbf\xef\xbb\xbf<13>Dec 31 23:59:59 h a: 2 boms",
        b"", b"\n", b"<", b"<13>", b"<13>D", b"<13>Dec 31 23:59:59 h a:", b"<13>Dec 31 23:59:59 h a: \xef\xbb\xbf",
        b"<13>Dec 31 23:59:59 h a:\x1cx", b"<13>Dec 31 23:59:59 h\x1ca: x", b"<13>Dec 31 23:59:59 h a[\x1c]: x",
        b"<86>Dec 31 23:59:59 bastion-01 sudo:   bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/ls",
        b"<13>Dec 31 23:59:59 h nginx: 1.2.3.4 - - [31/Dec/2025:23:59:59 +0000] \"GET / HTTP/1.1\" 200 5",
        b"<13>Dec 31 23:59:59 h app: CEF:0|a|b|1|x|y|5|src=1.2.3.4", b"<13>Dec 31 23:59:59 h app: {\"k\": \"v\"}",
        b"<13>Dec 31 23:59:59 h app: {\"level\": \"error\", \"service\": \"x\"}",
        b"<13>Dec 31 23:59:59 h app: {broken}", b"<13>Dec 31 23:59:59 h app: CEF:broken",
    ]
    for program in PROGRAMS:
        for message in AUTH_MESSAGES:
            tag = f"{program}[7]" if program else "x"
            lines.append(f"<38>Dec 31 23:59:59 h {tag}: {message}".encode())
            lines.append(f"<38>1 2025-12-31T23:59:59.5Z h {program or '-'} 7 - - {message}".encode())
    return lines


def _corpus_lines() -> list[bytes]:
    lines = []
    for fmt in ("syslog", "auth"):
        for path in samples(fmt):
            lines.extend(records(path))
    return lines + (CORPUS / "auth_2000.log").read_bytes().split(b"\n")


def _bench_lines(n: int, seed: int = 7) -> list[bytes]:
    """The benchmark's syslog and auth lines (its records in [0.85, 0.95): they start with `<`)."""
    rnd = random.Random(seed)
    lines, i = [], 0
    while len(lines) < n:
        value, _ = record(rnd, i)
        i += 1
        if value[:1] == b"<":
            lines.append(value)
    return lines


# -- the comparisons -------------------------------------------------------------------------


@needs_c
def test_the_c_form_is_in_use_by_default():
    if os.environ.get("SLUICE_PURE_PYTHON") == "1":
        pytest.skip("SLUICE_PURE_PYTHON=1")
    assert syslog.decode is auth._syslog.decode and auth.parse is auth._syslog.auth_parse
    from streams.ingest import decoders
    assert decoders.FORMATS["syslog"] is auth._syslog.decode


@needs_c
@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_fixed_and_corpus_lines(name):
    pair = Pair(**CONTEXTS[name])
    for value in _fixed_lines() + _corpus_lines():
        pair.check(value)
        pair.check(value)  # the second reading is from the memo


@needs_c
def test_benchmark_lines():
    pair = Pair(**CONTEXTS["utc"])
    results = [pair.check(value) for value in _bench_lines(3000)]
    assert all(r[0] == "ok" for r in results)
    kinds = {r[1][1][0][1][0][1] for r in results}  # [Decoded].kind
    assert kinds == {"security", None}


@needs_c
def test_the_benchmark_lines_are_read_in_c():
    """None of them goes back to the Python forms (the point of the C form)."""
    def refuse(*args):
        raise AssertionError(f"the Python form was called: {args!r}")

    def bind(decode, inner, parse):
        auth._syslog.bind(decode, inner, syslog._date_3164, syslog._iso, syslog.Decoded, syslog.FACILITIES,
                          syslog.SEVERITIES, syslog._ACCESS_PROGRAMS)
        auth._syslog.bind_auth(parse, auth.AUTH_PROGRAMS, auth._BY_PROGRAM, auth._sshd, auth._sudo)

    bind(refuse, refuse, refuse)
    try:
        ctx = DecodeContext(OBSERVED, TimeParser())
        for value in _bench_lines(500):
            auth._syslog.decode(value, ctx)
    finally:
        bind(syslog._py_decode, syslog.inner, auth._py_parse)


@needs_c
def test_auth_parse_on_its_own():
    for program in PROGRAMS + ["Sshd", "sshdx", "ssh", "doas", "ünï"]:
        for message in AUTH_MESSAGES:
            same_auth(program, message)
    assert same_auth("sshd", "Failed password for root from 1.2.3.4 port 22 ssh2")[0] == "ok"


@needs_c
def test_unusual_calls_are_the_python_forms():
    ctx = DecodeContext(OBSERVED, TimeParser())
    with pure_python():
        expected = outcome(syslog._py_decode, bytearray(b"<13>Dec 31 23:59:59 h a: x"), ctx)
    assert outcome(auth._syslog.decode, bytearray(b"<13>Dec 31 23:59:59 h a: x"), ctx) == expected
    line = "<13>Dec 31 23:59:59 h a: x"
    assert outcome(auth._syslog.decode, line, ctx) == outcome(syslog._py_decode, line, ctx)
    assert outcome(auth._syslog.auth_parse, b"sshd", "x") == outcome(auth._py_parse, b"sshd", "x")
    assert outcome(auth._syslog.auth_parse, "sshd") == outcome(auth._py_parse, "sshd")
    assert outcome(auth._syslog.decode, b"x") == outcome(syslog._py_decode, b"x")


@needs_c
def test_a_memo_that_is_not_a_dict_and_odd_caches():
    class Memo(dict):
        pass
    for value in (b"<13>Dec 31 23:59:59 h a: x", b"<13>Dec 31 23:59:58 h a: y"):
        py = DecodeContext(OBSERVED, TimeParser(), syslog_dates=Memo())
        c = DecodeContext(OBSERVED, TimeParser(), syslog_dates=Memo())
        with pure_python():
            expected = outcome(syslog._py_decode, value, py)
        assert outcome(auth._syslog.decode, value, c) == expected and c.syslog_dates == py.syslog_dates
    pair = Pair(times={})
    for ctx in (pair.py, pair.c):
        ctx.times.iso_cache["2025-12-31T23:59:58"] = 7  # an int: `base + float(...)` is still a float
        ctx.syslog_dates["Dec 31 23:59:59"] = None  # `if ts is None`: read again
    pair.check(b"<165>1 2025-12-31T23:59:58.25Z h a - - - m")
    pair.check(b"<13>Dec 31 23:59:59 h a: x")


@needs_c
def test_the_date_memo_limit():
    pair = Pair(times={})
    for ctx in (pair.py, pair.c):
        ctx.syslog_dates.update((f"k{i}", 0.0) for i in range(DATES_LIMIT + 1))
    pair.check(b"<13>Dec 31 23:59:59 h a: x")
    assert len(pair.c.syslog_dates) == 1


# -- generated lines -------------------------------------------------------------------------


def _edited(pieces: list[str], others: list[str]):
    """`pieces` joined, with up to three of them replaced by one of `others` (or dropped)."""
    def edit(edits: list[tuple[int, str]]) -> str:
        out = list(pieces)
        for i, other in edits:
            out[i] = other
        return "".join(out)
    return st.lists(st.tuples(st.integers(0, len(pieces) - 1), st.sampled_from(["", *others])), max_size=3).map(edit)


BLANKS = [" ", "  ", "\t", "\n", "\x1c", "\xa0", "\u2003", "\r"]
WORDS = ["root", "a b", "invalid user", "from", " from ", "port", " port ", "ssh2", "ssh", ": ", "(uid=0)", "by",
         " by ", ";", " ; ", "TTY=", "PWD=", "USER=", "COMMAND=", "GROUP=x ;", " ENV=a ;", "=", "ü", "0", "12"]
AUTH_GENERATED = st.one_of(
    _edited(["Failed", " ", "password", " for ", "invalid user ", "alice", " from ", "203.0.113.7", " port ", "2222",
             " ssh2", ": ", "ED25519", " ", "SHA256:x1"],
            ["Accepted", "publickey", " ", "ssh", "ssh9", "x", " from x port 1", ": RSA", *WORDS, *BLANKS]),
    _edited(["Invalid user ", "bob", " from ", "10.0.0.1", " port ", "22"], ["invalid user ", *WORDS, *BLANKS]),
    _edited(["pam_", "unix", "(", "sshd", ":", "session", "): ", "session opened for user ", "alice", "(uid=1000)",
             " by ", "", "(uid=0)", ""],
            ["session closed for user ", "systemd-user", "su-l", "(uid=)", "(uid=x)", "()", "\n", *WORDS, *BLANKS]),
    _edited(["", "alice", " : ", "", "TTY=pts/0 ; ", "PWD=/home/alice", " ; USER=", "root", " ;", " GROUP=adm ;",
             " TSID=1 ;", " ENV=A=1 ;", " COMMAND=", "/usr/bin/systemctl restart nginx"],
            ["   ", "user NOT in sudoers ; ", "TTY=x ; ", " ; COMMAND=y", "PWD=", " ENV= ;", "\n", *WORDS, *BLANKS]),
    st.sampled_from(AUTH_MESSAGES),
    st.lists(st.sampled_from(list("pam_(): ;=aFIil ufr") + WORDS), max_size=12).map("".join),
)
PROGRAM = st.one_of(st.sampled_from(PROGRAMS), st.text(max_size=4))


@PROPS
@given(PROGRAM, AUTH_GENERATED)
@needs_c
def test_generated_auth_messages(program, message):
    same_auth(program, message)


HEADERS_3164 = _edited(
    ["<", "38", ">", "Dec", " ", "31", " ", "23:59:59", " ", "bastion-01", " ", "sshd", "[", "4242", "]", ":", " "],
    ["<", ">", "013", "191", "192", "999", "1234", "jan", "Feb", "29", "30", "  ", "1", "00", "24:00:00", "2024 ",
     "[", "]", ":", "::1", "x" * 65, "9" * 33, "é", *BLANKS])
HEADERS_5424 = _edited(
    ["<", "165", ">", "1", " ", "2025-12-31T23:59:58.123Z", " ", "host", " ", "app", " ", "1234", " ", "ID47", " ",
     '[meta@32473 region="eu-west-1"]', " "],
    ["-", "10", "100", "2025-12-31T23:59:58Z", "2025-12-31T23:59:58.Z", "2025-12-31t23:59:58+01:00", "x" * 30,
     '[a]', '[a b="\\"c\\]"]', '[a b="c"][d]', '[a b="c" ]', '[a b=c]', '[a', "[", '[x y="é"]', "\xef\xbb\xbf",
     *BLANKS])
MESSAGES = st.one_of(AUTH_GENERATED, st.sampled_from(["", "x", "\xef\xbb\xbf", "{}", '{"a":1}', "CEF:0|a",
                                                      "caf\xe9", "\ud7ff", "\U0001F600"]))
ENDINGS = st.sampled_from(["", "", "\n", "\r\n", "\r", "\n\n"])


def _bytes(start: bytes, header: str, message: str, ending: str) -> bytes:
    return start + (header + message + ending).encode("utf-8", "surrogatepass")


LINES = st.one_of(
    st.builds(_bytes, st.sampled_from([b"", b"", b"\xef\xbb\xbf", b" "]), st.one_of(HEADERS_3164, HEADERS_5424),
              MESSAGES, ENDINGS),
    st.builds(lambda line, cut, junk: line[:cut] + junk + line[cut:], st.sampled_from(_bench_lines(40)),
              st.integers(0, 200), st.binary(max_size=3)),
    st.binary(max_size=40).map(lambda b: b"<13>" + b), st.binary(max_size=40),
)


@PROPS
@given(LINES, st.sampled_from(sorted(CONTEXTS)))
@example(b"<38>Dec 31 23:59:59 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2", "utc")
@example(b"<13>Dec 31 23:59:59 h a: \xed\xa0\x80", "utc")
@needs_c
def test_generated_lines(value, name):
    PAIRS[name].check(value)


PAIRS = pairs() if auth._syslog is not None else {}

# -- the switch, memory ---------------------------------------------------------------------------


def test_sluice_pure_python_selects_the_python_forms():
    code = ("from streams.ingest.decoders import auth, syslog, FORMATS; "
            "print(type(syslog.decode).__name__, type(auth.parse).__name__, FORMATS['syslog'] is syslog.decode)")
    pure, default = switched(code)
    assert pure == ["function", "function", "True"]
    built = auth._syslog is not None
    assert default == ["builtin_function_or_method" if built else "function"] * 2 + ["True"]


@needs_c
def test_no_memory_is_kept_per_call():
    """Every path, errors and fallbacks included, run over and over: memory does not grow."""
    lines = _bench_lines(40) + _fixed_lines()[:90] + [b"<13>Feb 30 12:00:00 h a: x", b"<13>Dec 31 23:59:59 h a: \xff"]
    messages = [(p, m) for p in PROGRAMS[:6] for m in AUTH_MESSAGES]
    decode, parse = auth._syslog.decode, auth._syslog.auth_parse

    def run(n):
        ctx = DecodeContext(OBSERVED, TimeParser())
        for i in range(n):
            try:
                decode(lines[i % len(lines)], ctx)
            except DecodeError:  # the errors are part of what is run
                pass
            parse(*messages[i % len(messages)])

    grown = bytes_kept(run, 5000, 30000)
    assert grown < 64 * 1024, f"{grown} bytes kept after 30,000 calls"
