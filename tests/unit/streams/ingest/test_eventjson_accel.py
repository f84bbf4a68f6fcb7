"""`streams.ingest._eventjson.dumps` (streams/ingest/_eventjson.c) gives exactly what
`orjson.dumps` gives: the same bytes, or the same exception (type and message), on the
canonical events of the benchmark's corpus and on generated JSON-like values, including
everything the C writer hands back to orjson (subclasses, non-str keys, surrogates, big
ints, deep nesting).

The tests skip when the extension is not built (no C compiler when the package was
installed); ingest then serializes with orjson.dumps.
"""

from __future__ import annotations

import math
import random
import struct
import sys
from collections import OrderedDict

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.streams.ingest.accel_checks import props

try:
    from streams.ingest import _eventjson
except ImportError:  # built only where a C compiler was available
    _eventjson = None

pytestmark = pytest.mark.skipif(
    _eventjson is None,
    reason="streams.ingest._eventjson is not built (no C compiler at install time): ingest uses orjson.dumps")
PROPS = props()


def outcome(fn, x):
    try:
        out = fn(x)
    except Exception as exc:  # both must raise the same thing
        return "raised", type(exc), str(exc)
    return "ok", type(out), out


def same(x) -> None:
    ours, theirs = outcome(_eventjson.dumps, x), outcome(orjson.dumps, x)
    assert ours == theirs
    if ours[0] == "ok":
        assert type(ours[2]) is bytes
    if type(x) is dict:  # the same object from its keys and values, as the ingest loop keeps events
        assert outcome(lambda d: _eventjson.dumps_fields(tuple(d), tuple(d.values())), x) == theirs


def test_dumps_fields_takes_two_tuples_of_one_length():
    for args in ((("a",), ()), (["a"], [1]), (("a",),), (("a",), (1,), (2,))):
        with pytest.raises(TypeError, match="two tuples of one length"):
            _eventjson.dumps_fields(*args)


# -- the benchmark's events --------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_output():
    from benchmarks import bench_ingest
    return bench_ingest._ingestor().process(bench_ingest.corpus(1500), bench_ingest.OBSERVED, keep_events=True)


def test_bench_events_kept_by_the_ingestor(bench_output):
    assert len(bench_output.events) > 1000
    for ev in bench_output.events:
        assert _eventjson.dumps(ev) == orjson.dumps(ev)


def test_bench_events_of_every_topic_decoded_again(bench_output):
    topics = 0
    for items in bench_output.by_topic.values():
        topics += 1
        for _key, body, _source in items:
            assert _eventjson.dumps(orjson.loads(body)) == body
    assert topics >= 3


# -- floats --------------------------------------------------------------------------------

EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 1e15, 1e16, -1e16, 1e17, 1e21, 1e22, 1e23, 1e-4, 1e-5, 1e-6,
               1e-7, 2.5e-5, 1.2345e-5, 9.99e-6, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
               1.7976931348623157e308, -1.7976931348623157e308, math.nan, math.inf, -math.inf, 9007199254740992.0,
               9007199254740993.0, 9999999999999998.0, 999999999999999.9, 99999999999999.99, 1767225579.714,
               1767225584.3586583, 1767225600.0, 123456789012345.6, 0.30000000000000004, 1e-5 * (1 + 2**-52),
               math.nextafter(1e15, 0), math.nextafter(1e-5, 0), 2.0**-17, 2.0**49, 4.35, 0.000015]


@pytest.mark.parametrize("x", EDGE_FLOATS + [-x for x in EDGE_FLOATS], ids=repr)
def test_edge_floats(x):
    same(x)
    same({"ts": x, "list": [x, x]})


def _first_difference(xs):
    return next((x for x in xs if _eventjson.dumps(x) != orjson.dumps(x)), None)


def test_many_floats_in_the_ranges_events_use():
    """The C writer proves most floats' digits without dtoa (15, 16 and 17 digits, see
    put_short_float): random floats of every shape, a list at a time."""
    rng = random.Random(20260101)
    xs = []
    for i in range(120_000):
        kind = i % 6
        if kind == 0:  # any bit pattern: subnormals, huge, tiny, nan
            x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        elif kind == 1:  # epoch seconds, as clocks give them
            x = rng.uniform(1.7e9, 1.8e9)
        elif kind == 2:  # epoch seconds in ms, metric values with a few decimals
            x = round(rng.uniform(0, 2e9), rng.randint(0, 9))
        elif kind == 3:  # the fixed-notation range, log-uniform
            x = 10.0 ** rng.uniform(-5.5, 16.5)
        elif kind == 4:  # powers of two and neighbours: uneven rounding intervals
            p = math.ldexp(1.0, rng.randint(-20, 55))
            x = rng.choice([p, math.nextafter(p, 0), math.nextafter(p, math.inf)])
        else:  # dyadic fractions: exact, many digits
            x = rng.randint(1, 2**53) / 2.0 ** rng.randint(0, 60)
        xs.append(-x if rng.random() < 0.3 else x)
    assert _eventjson.dumps(xs) == orjson.dumps(xs), _first_difference(xs)


@given(st.lists(st.floats(), max_size=50))
@PROPS
def test_generated_floats(xs):
    same(xs)


# -- strings, ints and the rest ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "", "a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "abcdefghi", 'q"', "\\", "a\\b\"c", "\x00", "\x1f", "\x7f",
    "\b\f\n\r\t\x0b\x01", "é", "ÿ", "€", "\u2028\u2029", "😀", "a😀b", "x" * 1000 + "\n", "\u0100" * 9,
    "tab\there quote\"here backslash\\here", "\ud800", "a\udfffb", "\udbff\udc00",
])
def test_strings(text):
    same(text)
    same({text: text})
    same([text, {"k": text}])


@pytest.mark.parametrize("n", [0, 1, -1, 9, 10, 99, 100, 2**31, -2**31, 2**53 + 1, 2**63 - 1, 2**63, -2**63, 2**64 - 1,
                               -2**63 - 1, 2**64, -2**64, 10**30, -10**30])
def test_ints(n):
    same(n)
    same({"v": n, "after": "x"})


def test_constants_and_containers():
    for x in [None, True, False, [], (), {}, [None, True, False], (1, "a", 2.5), {"a": {"b": {"c": []}}},
              [[[]]], {"t": (1, [2, {"x": ()}])}]:
        same(x)


class Str(str):
    pass


class Int(int):
    pass


class Float(float):
    pass


class Dict(dict):
    pass


class Opaque:
    def __repr__(self) -> str:  # a stable test id (xdist workers must collect the same ids)
        return "Opaque()"


@pytest.mark.parametrize("x", [
    {Str("k"): "v"}, {"k": Str("v")}, Str("v"), Int(5), {"k": Int(5)}, Float(1.5), {"k": Float(1.5)},
    Dict(a=1), {"d": Dict(a=1)}, OrderedDict(a=1), {"o": OrderedDict(a=1)}, {1: "v"}, {None: 1}, {(1, 2): 3},
    {"k": Opaque()}, Opaque(), {"k": {1, 2}}, {"k": b"bytes"}, {"k": 1 + 2j}, {"k": [1, 2**64]},
    {"a": "fine", "b": "\ud800"}, {"\udc00": 1}, [True, 2**70], {"later": "x", 5: "non-str key after str keys"},
], ids=repr)
def test_everything_left_to_orjson(x):
    same(x)


def test_deep_nesting():
    for depth in (1, 10, 63, 64, 65, 100, 254, 255, 256, 300):
        nested_list = []
        nested_dict = {}
        for _ in range(depth):
            nested_list = [nested_list]
            nested_dict = {"k": nested_dict}
        same(nested_list)
        same(nested_dict)


def test_self_containing_values():
    loop = {"a": 1}
    loop["self"] = loop
    same(loop)
    cycle = [1]
    cycle.append(cycle)
    same(cycle)


def test_big_output_then_small_again():
    """The scratch buffer grows for one big object and is given back afterwards."""
    big = {f"k{i}": "v" * 100 + "\n" * (i % 3) for i in range(30_000)}
    same(big)
    same({"a": "x" * 5_000_000})
    same({"small": 1})
    same({"a": "x" * 5_000_000, "then": 2**70})  # grown, then handed to orjson
    same({"small": 1})


def test_many_key_objects_and_their_reuse():
    """Keys are cached by identity (holding a reference): fresh key objects whose
    addresses may repeat must still give their own text."""
    for round_ in range(20):
        keys = [f"key-{round_}-{i}" for i in range(600)]
        d = {k: i for i, k in enumerate(keys)}
        same(d)
        del d, keys  # frees the keys the cache does not hold
    long_key = "k" * 60
    same({long_key: 1, "x\n": 2, "é": 3})
    same({long_key: 1, "x\n": 2, "é": 3})


def test_references_are_balanced():
    value, key = "value-" + str(random.random()), "key-" + str(random.random())
    event = {key: value, "f": 1.25, "n": 2**40, "nested": {key: [value, 17.5]}}
    before = sys.getrefcount(value), sys.getrefcount(key)
    for _ in range(1000):
        _eventjson.dumps(event)
    after = sys.getrefcount(value), sys.getrefcount(key)
    assert after[0] == before[0]
    assert after[1] - before[1] in (0, 1)  # the key cache holds one reference


# -- generated JSON-like values --------------------------------------------------------------

TEXT_CHARS = st.characters(categories=("L", "N", "P", "S", "Z", "Cc", "Cf", "Cs", "Co", "M"))
texts = st.one_of(st.text(TEXT_CHARS, max_size=20), st.text(st.characters(max_codepoint=0x7f), max_size=40),
                  st.sampled_from(["", '"', "\\", "\x00", "\x7f", "\u2028", "😀", "tenant", "ts"]))
scalars = st.one_of(
    st.none(), st.booleans(), texts,
    st.integers(min_value=-2**63, max_value=2**64 - 1),
    st.integers(min_value=-2**70, max_value=2**70),
    st.floats(), st.floats(min_value=1.6e9, max_value=1.9e9),
    st.builds(Str, texts), st.builds(Int, st.integers()),
)
keys = st.one_of(texts, st.builds(Str, texts), st.integers(), st.none())


def _containers(children):
    return st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(texts, children, max_size=8),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(texts, children, max_size=4).map(Dict),
    )


json_like = st.recursive(scalars, _containers, max_leaves=40)


@given(json_like)
@PROPS
def test_generated_values(x):
    same(x)


@given(st.dictionaries(texts, st.one_of(texts, st.floats(), st.integers(), st.dictionaries(texts, texts, max_size=10)),
                       max_size=25))
@PROPS
def test_generated_event_like_dicts(ev):
    same(ev)


def _enriched(attrs: dict, extra: dict) -> dict:
    merged = dict(attrs)
    for k, v in extra.items():
        merged.setdefault(k, v)
    return merged


TABLE_TEXTS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)  # what a table file can hold


@given(st.dictionaries(st.sampled_from(["team", "tier", "x", "ü", ""]) | texts, texts | st.integers(), max_size=5),
       st.dictionaries(st.sampled_from(["team", "tier", "owner", "region"]) | TABLE_TEXTS, TABLE_TEXTS, max_size=5),
       st.integers(0, 2))
@PROPS
def test_dumps_fields_writes_enriched_attributes_as_the_merged_dict(attrs, extra, at):
    """The attributes with the table's columns they lack, written after them: from the
    columns' JSON when none clashes, else column by column."""
    keys = ("a", "b", "c")
    values = tuple(attrs if i == at else v for i, v in enumerate(("x", 1.5, None)))
    merged = {k: _enriched(v, extra) if i == at else v for i, (k, v) in enumerate(zip(keys, values, strict=True))}
    assert outcome(lambda v: _eventjson.dumps_fields(keys, v, at, extra, orjson.dumps(extra)[1:-1]), values) == \
        outcome(orjson.dumps, merged)


def test_dumps_fields_enriched_falls_back_to_orjson_as_a_whole():
    keys, extra = ("a", "attributes"), {"team": "t"}
    for attrs in ({"k": Str("v")}, {"k": 2**70}, {"\udc00": "v"}):
        values = ("x", attrs)
        assert outcome(lambda v: _eventjson.dumps_fields(keys, v, 1, extra, b'"team":"t"'), values) == \
            outcome(orjson.dumps, {"a": "x", "attributes": _enriched(attrs, extra)})
    with pytest.raises(TypeError, match="must be dicts"):
        _eventjson.dumps_fields(keys, ("x", "not a dict"), 1, extra, b"")
