"""The C form of `JsonLogs.event` (streams/ingest/_jsonlog.c) gives exactly what the
Python form gives: the same event (keys, order, value types and values), the same
exception, the same caches, on generated records and on the benchmark's records.

The tests of the C form skip when the extension is not built (no C compiler when the
package was installed); the Python form then runs everywhere.
"""

from __future__ import annotations

import copy
import gc
import math
import random
import weakref
from collections import OrderedDict

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.ingest import jsonfast
from streams.ingest.jsonfast import JsonLogs
from streams.ingest.normalize import _LOG
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.accel_checks import bytes_kept, props, switched, typed
from tests.unit.streams.ingest.corpus import OBSERVED

needs_c = pytest.mark.skipif(
    jsonfast._jsonlog is None,
    reason="streams.ingest._jsonlog is not built (no C compiler at install time): only the Python path runs")
PROPS = props()

# -- what the two forms are compared on ----------------------------------------------------




def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the two forms must raise the same thing
        return "raised", (type(exc), str(exc))


def same(a, b) -> None:
    assert typed(a) == typed(b)
    assert a == b
    if a[0] == "ok" and a[1] is not None:
        opt = orjson.OPT_NON_STR_KEYS
        assert orjson.dumps(a[1], option=opt) == orjson.dumps(b[1], option=opt)


class Pair:
    """A Python and a C JsonLogs, each with its own TimeParser, fed the same calls."""

    def __init__(self, **times):
        self.times = times
        self.fresh()

    def fresh(self):
        self.py = JsonLogs(TimeParser(**self.times), accelerate=False)
        self.c = JsonLogs(TimeParser(**self.times), accelerate=True)
        # called in fields mode only, by `check` only (its caches lag when a test calls `c` alone)
        self.cf = JsonLogs(TimeParser(**self.times), accelerate=True)
        assert self.c.accelerated and type(self.c.event).__name__ == "Events"

    def check(self, d, *args, **kwargs):
        if len(self.py.plans) > jsonfast._PLAN_LIMIT // 2:
            # Past the limit the Python form empties `plans` and fills it again; the C
            # form consults it only for shapes it does not remember: start afresh.
            self.fresh()
        expected = outcome(lambda: self.py.event(copy.deepcopy(d), *args, **kwargs))
        actual = outcome(lambda: self.c.event(copy.deepcopy(d), *args, **kwargs))
        same(expected, actual)
        # fields mode: the same event as the tuple of its values (a dict when Python built it)
        fields = outcome(lambda: self.cf.fields(copy.deepcopy(d), *args, **kwargs))
        if fields[0] == "ok" and type(fields[1]) is tuple:
            fields = ("ok", dict(zip(jsonfast._jsonlog.LOG_FIELDS, fields[1], strict=True)))
        same(expected, fields)
        assert self.c.prefixes == self.py.prefixes
        assert self.c.times.iso_cache == self.py.times.iso_cache
        assert set(self.c.plans) == set(self.py.plans)
        return actual


# -- generated records ------------------------------------------------------------------------

ALIASES = sorted({k for keys in _LOG for k in keys})
NESTED = ["service", "host", "log", "trace", "span", "event", "http", "resource", "attributes", "labels", "a",
          "deployment", "k8s", "kubernetes", "tenant", "organization", "syslog", "dd", "message"]
KEYS = st.one_of(
    st.sampled_from(ALIASES), st.sampled_from(NESTED),
    st.sampled_from(["kind", "resourceLogs", "sluice.source_event_id", "name", "id", "level", "x", "a.b", "",
                     "ünï", "sluice.ts_flag"]),
    st.text(max_size=8))
SECONDS = ["2025-12-31T23:59:58", "2026-01-01T00:00:05", "2026-01-01T00:00:09", "2026-01-03T00:00:00",
           "1999-12-31T23:59:59", "2026-01-01t00:00:05", "2026-01-01 00:00:05"]
FRACTIONS = [".5", ".123", ".000", ".123456789", ".", ".١٢٣", ".²", ".12a", ".1_2", "", ".5 ", ".999999999999999",
             ".123456789012345", ".1234567890123456", ".99999999999999999", ".0000000000000001", ".1٢3"]
ISO = st.builds(lambda s, f, z: s + f + z, st.sampled_from(SECONDS), st.sampled_from(FRACTIONS),
                st.sampled_from(["Z", "Z", "z", "+01:00", "", " Z"]))
DIGITS = st.one_of(st.integers(0, 10**20).map(str), st.sampled_from([
    "1767225598123456768", "1767225598123456789", "1767225598123", "1767225598123456", "1767225598",
    "9007199254740993", "18446744073709551615", "18446744073709551616", "9999999999999999999", "0", "00017672255981",
    "١٢٣", "²", "-1", "1767225598.5", " 1767225598"]))
NUMBER_TIMES = st.one_of(
    st.floats(OBSERVED - 4e5, OBSERVED + 2e5), st.sampled_from([OBSERVED, 946684800.0, OBSERVED + 86400.0]),
    st.integers(0, 2 * 10**19), st.sampled_from([1767225598123, 1767225598123456, 1767225598123456789, 10**40]),
    st.floats(1.7e12, 1.8e12), st.floats(1.7e18, 1.8e18))
UUIDS = st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()),
                  st.sampled_from(["0191E2B4-5C8A-7D3E-9F1A-2B3C4D5E6F70", "0191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6f7",
                                   "0191e2b4x5c8a-7d3e-9f1a-2b3c4d5e6f70", "0191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6fg0",
                                   "０191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6f70"]))
TEXTS = st.one_of(
    st.sampled_from(["info", "INFO", "Info", "warn", "err", "E", "weird", " debug ", "", "5", "30", "17", "0",
                     "abc", "ABCDEF0123456789abcdef0123456789", "00f067aa0ba902b7", "12345678901234567890",
                     "4bf92f3577b34da6a3ce929d0e0e4736", "İ", "ß", "ǅ", "ﬁ", "ⅸ", "a\u0130", "default", "unknown",
                     "true", "null", "x" * 200]),
    st.text(max_size=12), ISO, DIGITS, UUIDS)
FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.sampled_from([0.0, -0.0, 1e16, 1.5e-7, 123.456, 1e300, math.inf, -math.inf, math.nan]))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-30, 70), FLOATS, TEXTS,
                    NUMBER_TIMES)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=8)
RECORDS = st.dictionaries(KEYS, VALUES, max_size=12)
ATTRIBUTES = st.one_of(st.none(), st.just({}), st.dictionaries(
    st.sampled_from(["sluice.format", "kind", "msg", "process.pid", "ts", "x"]), st.text(max_size=5), max_size=3))
OFFSETS = st.one_of(st.integers(0, 10**6), st.sampled_from([0, 2**48 - 1, 2**48, 2**64, 2**70, -1]))
CALLS = st.tuples(st.sampled_from(["t", "logs.raw", "ünï"]), st.sampled_from([0, 1, 7, 2**40]), OFFSETS,
                  st.booleans(), ATTRIBUTES, st.sampled_from([0, 0, 0, 1, 3, 65535, 65536]))

TIMES = {"utc": {}, "paris": {"timezone": "Europe/Paris"}, "reject": {"reject_out_of_range": True}}
# shared by the examples of a test run (the caches too), built when there is a C form
PAIRS = {name: Pair(**times) for name, times in TIMES.items()} if jsonfast._jsonlog is not None else {}


def _json_safe(x):
    """x as orjson would hand it over: nan/inf are null, ints within 64 bits."""
    try:
        return orjson.loads(orjson.dumps(x))
    except orjson.JSONEncodeError:
        return None


@needs_c
@PROPS
@given(RECORDS, st.lists(VALUES, min_size=12, max_size=12), CALLS, st.sampled_from(sorted(TIMES)))
def test_generated_records_give_what_the_python_form_gives(d, other_values, call, pair):
    topic, partition, offset, flat, attributes, index = call
    p = PAIRS[pair]
    args = (OBSERVED, topic, partition, offset, flat, attributes, index)
    p.check(d, *args)
    p.check(d, *args)  # the same keys again: the C form remembers the record's shape
    p.check(dict(zip(d, other_values, strict=False)), *args)  # same keys, other values
    if not attributes and not index:
        p.check(d, OBSERVED, topic, partition, offset, flat)


@needs_c
@PROPS
@given(RECORDS, CALLS)
def test_json_records_give_what_the_python_form_gives(d, call):
    """Records as orjson hands them over: its key objects, no nan, ints within 64 bits."""
    topic, partition, offset, flat, attributes, index = call
    d = _json_safe(d)
    if type(d) is not dict:
        return
    raw = orjson.dumps(d)
    p = PAIRS["utc"]
    for _ in range(2):
        p.check(orjson.loads(raw), OBSERVED, topic, partition, offset, raw.find(b"{", 1) < 0)
        p.check(orjson.loads(raw), OBSERVED, topic, partition, offset, False, attributes, index)


@needs_c
@PROPS
@given(st.sampled_from(["ts", "timeUnixNano", "@timestamp", "time"]), st.one_of(ISO, DIGITS, NUMBER_TIMES, TEXTS),
       st.sampled_from(sorted(TIMES)))
def test_times_read_as_the_python_form_reads_them(key, raw, pair):
    PAIRS[pair].check({key: raw, "msg": "m"}, OBSERVED, "t", 1, 9, True)
    PAIRS[pair].check({"log": {"x": 1}, key: raw, "msg": "m"}, OBSERVED, "t", 1, 9, False)


@needs_c
@settings(max_examples=3000, deadline=None)
@given(st.integers(1, 17).flatmap(lambda k: st.integers(0, 10**k - 1).map(lambda u: str(u).zfill(k))),
       st.sampled_from(SECONDS[:4]))
def test_fractions_of_a_second_add_as_float_reads_them(digits, second):
    """The C form reads up to 15 digits of fraction as an integer over a power of ten
    and takes the second from its memo: the event time is the Python form's base +
    float(".digits"), whichever second came before. (A one-ulp slip of the fraction
    alone would vanish in the sum with a 2000s epoch; why there is none: iso_z.)"""
    c = JsonLogs(TimeParser(), accelerate=True)
    expected = c.times.iso(second + "Z") + float("." + digits)
    for raw in (second + "Z", f"{second}.{digits}Z", f"{SECONDS[2]}.5Z", f"{second}.{digits}Z"):
        ev = c.event({"ts": raw}, 2e9, "t", 1, 9, True)
    assert ev["ts"] == expected


@needs_c
@PROPS
@given(st.dictionaries(st.sampled_from(ALIASES), st.one_of(TEXTS, UUIDS, SCALARS), min_size=1, max_size=8),
       st.sampled_from([True, False]))
def test_fields_read_as_the_python_form_reads_them(d, flat):
    """Every key an alias of a field: ids, trace and span ids, levels, names, times."""
    PAIRS["utc"].check(d, OBSERVED, "t", 1, 9, flat)
    PAIRS["utc"].check(d, OBSERVED, "t", 1, 9, flat, {"a": "b"}, 2)


@needs_c
@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.integers(0, 10**19 - 1), st.integers(50, 63).flatmap(
    lambda e: st.integers(2**e - 5000, 2**e + 5000)).filter(lambda u: 0 <= u < 10**19)))
def test_all_digit_times_round_as_float_does(u):
    # the C form converts up to 19 digits as an integer: the same rounding as float(text)
    c = JsonLogs(TimeParser(), accelerate=True)
    for text in (str(u), str(u).zfill(19)):
        ev = c.event({"timeUnixNano": text}, 2e18, "t", 1, 9, True)
        expected = jsonfast.epoch_seconds(float(text))
        if jsonfast.MIN_EPOCH_S <= expected <= 2e18 + jsonfast.MAX_FUTURE_S:
            assert ev["ts"] == expected


# -- fixed examples ---------------------------------------------------------------------------


def _bench_records(n: int, seed: int) -> list[bytes]:
    from benchmarks.bench_ingest import json_log
    rnd = random.Random(seed)
    return [orjson.dumps(json_log(rnd, i, OBSERVED - 30 + rnd.random() * 30)) for i in range(n)]


@needs_c
@pytest.mark.parametrize("seed", [7, 11])
def test_benchmark_records_in_all_three_styles(seed):
    p = Pair()
    styles = set()
    for i, raw in enumerate(_bench_records(600, seed)):
        styles.add(next(iter(orjson.loads(raw))))
        for flat in (raw.find(b"{", 1) < 0, False):
            p.check(orjson.loads(raw), OBSERVED, "logs.raw", i % 3, i, flat)
            p.check(orjson.loads(raw), OBSERVED, "logs.raw", i % 3, i, flat, {"sluice.format": "json"}, i % 2)
    assert styles == {"ts", "@timestamp", "timeUnixNano"}


FIXED = [
    {"ts": "2025-12-31T23:59:58.123Z", "level": "warn", "service": "api", "msg": "m", "status": 200, "ok": True,
     "ratio": 0.5, "big": 1e16, "tiny": 1.5e-7, "nothing": None, "tags": ["a", 1, 2.5, False], "obj": {"k": [1, {}]},
     "empty": {}, "nan": math.nan, "inf": -math.inf, "kind": "metric", "trace_id": "ABCDEF0123456789ABCDEF0123456789",
     "span_id": 12345678901234567, "event_id": "0191E2B4-5C8A-7D3E-9F1A-2B3C4D5E6F70"},
    {"@timestamp": "2026-01-01T00:00:09.5Z", "log": {"level": "ERROR", "logger": "x"}, "service": {"name": ""},
     "host": {"name": 7}, "message": {"text": "hi"}, "trace": {"id": ""}, "event": {"id": 42},
     "attributes": {"http": {"method": "GET"}, "kind": "k"}, "a.b": 1, "a": {"b": 2}},
    {"timeUnixNano": "1767225598123456768", "severityText": "INFO", "severity_number": "13", "body": ["x", "y"],
     "resource": {"service.name": "svc", "host.name": "h"}, "traceId": "12345", "spanId": "00F067AA0BA902B7",
     "tenant": 0, "env": False},
    {"time": 1767225598123, "level": 30, "name": "pino-app", "hostname": "h", "msg": "pino", "pid": 1, "v": 1},
    {"time": 1767225598123.5, "level": 50.0, "msg": "float time in ms"},
    {"ts": "not a time", "event_id": 12, "msg": "x"},
    {"ts": "2099-01-01T00:00:00.000Z", "msg": "future"},
    {"ts": "1990-01-01T00:00:00.000Z", "msg": "past"},
    {"ts": 2**1100, "msg": "huge int time"},
    {"ts": True, "level": None, "severity": [1, 2], "msg": None},
    {"ts": "2026-01-01T00:00:05.²Z", "msg": "a fraction float() rejects"},
    {"ts": "2026-01-01T00:00:05.١٢٣Z", "msg": "arabic-indic digits"},
    {"ts": "", "tenant": "", "service": None, "trace_id": "", "span_id": None},
    {"msg": "x", "tenant": {"id": "nested-tenant"}, "service": "svc", "kind": [1, {"a": math.nan}]},
    {"message": "level as a dict", "level": {"a": 1}},
    {},
    {"resourceLogs": [{"x": 1}], "msg": "an OTLP batch"},
    {"resourceMetrics": {"x": 1}},
    {"msg": "big int attribute", "n": 2**200, "neg": -7},
    {"x": {"attributes": {"a": 1, "attributes": {"b": 2}}}, "attributes": {"attributes": {"c": 3}, "d": {}}},
    {"event_id": "0191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6fg0", "trace_id": "ABCdef", "span_id": "abcDEF", "msg": "m"},
    {"eventId": "0191E2B4-5C8A-7D3E-9F1A-2B3C4D5E6F70", "traceId": "İabc", "spanId": "ǅ", "message": "m"},
]


@needs_c
@pytest.mark.parametrize("pair", sorted(TIMES))
@pytest.mark.parametrize("i", range(len(FIXED)))
def test_fixed_records(pair, i):
    p = PAIRS[pair]
    for flat in (True, False):
        for offset in (9, 2**48, 0):
            p.check(FIXED[i], OBSERVED, "t", 1, offset, flat)
            p.check(FIXED[i], OBSERVED, "t", 1, offset, flat, {"sluice.format": "x", "kind": "y"}, 2)
            p.check(FIXED[i], OBSERVED, "t", 1, offset, flat, {}, 0)


@needs_c
def test_an_otlp_batch_is_none_and_left_as_it_is():
    p = Pair()
    d = {"resourceLogs": [{"x": 1}], "a": {"b": 1}}
    before = copy.deepcopy(d)
    for flat in (True, False):
        assert p.c.event(d, OBSERVED, "t", 1, 9, flat) is None
        assert d == before


# -- what the C form hands to the Python form -------------------------------------------------


@needs_c
@pytest.mark.parametrize("call", [
    lambda e, d: e(d, OBSERVED, "t", 1, 9, flat=True),  # keywords
    lambda e, d: e(d, OBSERVED, "t", 1, 9, True, attributes={"a": "b"}),
    lambda e, d: e(d, OBSERVED, "t", 1, 9, True, None, 0, "extra"),  # too many: the Python TypeError
    lambda e, d: e(d, OBSERVED, "t", 1, 9),  # too few: the Python TypeError
    lambda e, d: e(d, 1767225600, "t", 1, 9, True),  # an int observed time
    lambda e, d: e(d, OBSERVED, "t", 1, -1, True),  # a negative offset
    lambda e, d: e(d, OBSERVED, "t", 1, 9, 1),  # flat not a bool
    lambda e, d: e(d, OBSERVED, "t", 1, 9, True, None, True),  # index not an int
    lambda e, d: e(d, OBSERVED, b"t", 1, 9, True),
    lambda e, d: e(d, OBSERVED, "t", "1", 9, True),
    lambda e, d: e(OrderedDict(d), OBSERVED, "t", 1, 9, True),
    lambda e, d: e({**d, 1: "int key"}, OBSERVED, "t", 1, 9, True),
    lambda e, d: e({**d, "n": {1: "int key"}}, OBSERVED, "t", 1, 9, False),
    lambda e, d: e({**d, "n": {1: "int key"}}, OBSERVED, "t", 1, 9, True),
])
def test_unusual_calls_are_the_python_forms(call):
    p = Pair()
    d = {"ts": "2026-01-01T00:00:05.5Z", "msg": "m", "service": {"name": "s"}}
    for _ in range(2):
        same(outcome(lambda: call(p.py.event, copy.deepcopy(d))), outcome(lambda: call(p.c.event, copy.deepcopy(d))))


@needs_c
def test_deep_records_are_the_python_forms():
    p = Pair()
    for depth in (150, 250, 400):
        d = leaf = {}
        for i in range(depth):
            leaf[f"k{i % 3}"] = {}
            leaf = leaf[f"k{i % 3}"]
        leaf["msg"] = "deep"
        p.check({"ts": 1767225598.0, "a": d}, OBSERVED, "t", 1, 9, False)


@needs_c
def test_many_shapes_and_dotted_keys():
    # more shapes than the C form remembers (it forgets the oldest), and more dotted keys
    # than it keeps (it forgets them all)
    p = Pair()
    rnd = random.Random(3)
    for i in range(4000):
        shape = rnd.randrange(40)
        if i % 2:
            d = {"ts": "2026-01-01T00:00:05.5Z", f"k{shape}": 1, "service": {"name": f"s{shape}"}, "n": [i]}
        else:
            d = {f"k{shape}": 1, "nested": {f"n{i}": {"x": i, "y": [i], "z": None, "w": 1.5}}, "msg": "m"}
        if i % 97 == 0:
            p.check(d, OBSERVED, "t", i % 2, i, False)
        else:
            same(outcome(p.py.event, copy.deepcopy(d), OBSERVED, "t", i % 2, i, False),
                 outcome(p.c.event, copy.deepcopy(d), OBSERVED, "t", i % 2, i, False))


@needs_c
def test_cache_limits(monkeypatch):
    monkeypatch.setattr(jsonfast, "_PLAN_LIMIT", 3)
    p = Pair()
    for i in range(60):
        d = {"ts": f"2026-01-01T00:00:05.{i % 17:03d}Z", f"k{i % 7}": i, "msg": "m"}
        same(outcome(p.py.event, copy.deepcopy(d), OBSERVED, "t", 1, i, True),
             outcome(p.c.event, copy.deepcopy(d), OBSERVED, "t", 1, i, True))
        assert len(p.c.plans) <= 4


# -- the switch, memory ---------------------------------------------------------------------


def test_sluice_pure_python_selects_the_python_form():
    code = ("from streams.ingest.jsonfast import JsonLogs; from streams.ingest.timeparse import TimeParser; "
            "j = JsonLogs(TimeParser()); print(j.accelerated, type(j.event).__name__)")
    pure, default = switched(code)
    assert pure == ["False", "method"]
    assert default == (["True", "Events"] if jsonfast._jsonlog is not None else ["False", "method"])


def test_pure_python_in_process(monkeypatch):
    monkeypatch.setenv("SLUICE_PURE_PYTHON", "1")
    j = JsonLogs(TimeParser())
    assert not j.accelerated and j.event.__func__ is JsonLogs.event
    assert j.event({"msg": "m"}, OBSERVED, "t", 1, 9, True)["message"] == "m"


@needs_c
def test_instances_are_collected():
    refs = []
    for _ in range(50):
        j = JsonLogs(TimeParser(), accelerate=True)
        j.event({"msg": "m", "a": {"b": 1}}, OBSERVED, "t", 1, 9, False)
        refs.append(weakref.ref(j))
    del j
    gc.collect()
    assert all(r() is None for r in refs)


@needs_c
def test_a_copy_is_bound_to_its_own_caches():
    import pickle
    j = JsonLogs(TimeParser(), accelerate=True)
    j.event({"ts": "2026-01-01T00:00:05.5Z", "msg": "m"}, OBSERVED, "t", 1, 9, True)
    for partition, twin in enumerate((pickle.loads(pickle.dumps(j)), copy.deepcopy(j), copy.copy(j)), start=2):
        assert twin.accelerated and type(twin.event).__name__ == "Events"
        assert twin.event({"msg": "m"}, OBSERVED, "t", partition, 9, True)["message"] == "m"
        assert ("t", partition) in twin.prefixes
        assert (("t", partition) in j.prefixes) == (twin.prefixes is j.prefixes)  # a shallow copy shares them


@needs_c
def test_no_memory_is_kept_per_call():
    """Every path, errors included, run over and over: memory does not grow."""
    j = JsonLogs(TimeParser(reject_out_of_range=True), accelerate=True)
    records = [orjson.loads(raw) for raw in _bench_records(30, 5)] + [
        {"ts": "2099-01-01T00:00:00.000Z", "msg": "DecodeError"},
        {"ts": "2026-01-01T00:00:05.²Z", "msg": "ValueError"},
        {"ts": "2026-01-01T00:00:05.5Z", "event_id": [1], "level": {"a": 1}, "x": math.nan, "trace_id": "ABC"},
        {"msg": "bad", "x": {1: 2}},
        {"resourceLogs": []},
        {1: "int key"},
    ]

    def run(n):
        for i in range(n):
            d = records[i % len(records)]
            try:
                j.event(copy.copy(d), OBSERVED, "t", 1, i % 100, False, {"a": "b"} if i % 3 == 0 else None, i % 2)
            except Exception:  # the errors are part of what is run
                pass

    grown = bytes_kept(run, 5000, 30000)
    assert grown < 64 * 1024, f"{grown} bytes kept after 30,000 calls"
