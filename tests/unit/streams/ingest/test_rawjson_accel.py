"""`Events` given a JSON record as its bytes (streams/ingest/_rawjson.h, read_bytes in
_jsonlog.c) gives exactly the event the Python form gives for `orjson.loads` of those
bytes (for metric samples and security events: the Normalizer), or NotImplemented (the batch loop then parses with orjson): never an event for
bytes orjson rejects, never another event when a record has a key twice, nests its keys
otherwise than a remembered record with the same keys, or has values orjson reads
differently. And it does read the records a batch repeats (else it would gain nothing).
"""

from __future__ import annotations

import copy
import json
import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.ingest import jsonfast
from streams.ingest.jsonfast import JsonLogs
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.accel_checks import bytes_kept, props
from tests.unit.streams.ingest.corpus import OBSERVED
from tests.unit.streams.ingest.test_jsonlog_accel import (
    FIXED,
    RECORDS,
    TIMES,
    Pair,
    _bench_records,
    _json_safe,
    outcome,
    same,
)
from tests.unit.streams.ingest.test_kinds_accel import (
    FIELD_VALUES,
    FIXED_METRICS,
    FIXED_SECURITY,
    FLAT_LABELS,
    KINDS,
    LABEL_KEYS,
    LABELS,
    METRIC_ALIASES,
    NAMES,
    NUMBERS,
    metric_sample,
)
from tests.unit.streams.ingest.test_kinds_accel import RECORDS as KIND_RECORDS
from tests.unit.streams.ingest.test_kinds_accel import Pair as KindPair
from tests.unit.streams.ingest.test_kinds_accel import _bench_records as kind_bench_records
from tests.unit.streams.ingest.test_kinds_accel import outcome as kind_outcome

pytestmark = pytest.mark.skipif(jsonfast._jsonlog is None, reason="streams.ingest._jsonlog is not built")
PROPS = props(200)  # each example runs several spellings, each three times, through both forms
PAIRS = {name: Pair(**times) for name, times in TIMES.items()} if jsonfast._jsonlog is not None else {}
KIND_PAIRS = ({(kind, name): KindPair(kind, **times) for kind in KINDS for name, times in TIMES.items()}
              if jsonfast._jsonlog is not None else {})


def from_bytes(p: Pair, raw: bytes, *args) -> bool:
    """Checks `raw` on the bytes road of both C forms against the Python form given
    orjson's dict; whether the road read it (rather than declining)."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        d = None
    taken = False
    for fn in (p.c.event, p.cf.fields):
        actual = outcome(fn, raw, *args)
        if actual == ("ok", NotImplemented):
            continue
        taken = True
        assert type(d) is dict, f"an event for what orjson does not read as an object: {raw!r}"
        if actual[0] == "ok" and type(actual[1]) is tuple:
            actual = ("ok", dict(zip(jsonfast._jsonlog.LOG_FIELDS, actual[1], strict=True)))
        same(outcome(lambda: p.py.event(copy.deepcopy(d), *args)), actual)
    return taken


def repeatedly(p: Pair, raw: bytes, *args) -> bool:
    """The first call learns the record's template (through orjson), the next ones read it."""
    return [from_bytes(p, raw, *args) for _ in range(3)][-1]


def spellings(d: dict) -> list[bytes]:
    """One record as different writers write it: orjson, json with spaces, indented,
    UTF-8 (no \\u escapes)."""
    return [orjson.dumps(d), json.dumps(d).encode(), json.dumps(d, indent=1, ensure_ascii=False).encode(),
            b" \r\n\t" + json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"]


@PROPS
@given(RECORDS, st.sampled_from(sorted(TIMES)), st.integers(0, 2**50), st.integers(0, 3))
def test_generated_records_read_from_their_bytes(d, pair, offset, index):
    d = _json_safe(d)
    if type(d) is not dict:
        return
    for raw in spellings(d):
        repeatedly(PAIRS[pair], raw, OBSERVED, "logs.raw", offset % 7, offset, False)
        # an element of a JSON array record: its index names it when it has no id
        repeatedly(PAIRS[pair], raw, OBSERVED, "logs.raw", offset % 7, offset, False, None, index)


@pytest.mark.parametrize("i", range(len(FIXED)))
def test_fixed_records_read_from_their_bytes(i):
    d = _json_safe(FIXED[i])
    for raw in spellings(d):
        repeatedly(PAIRS["utc"], raw, OBSERVED, "t", 1, 9, False)


def test_the_records_a_batch_repeats_are_read_from_their_bytes():
    p = Pair()
    declined = sum(not from_bytes(p, raw, OBSERVED, "logs.raw", i % 3, i, False)
                   for i, raw in enumerate(_bench_records(600, 7)))
    # the benchmark's records with a card number or a secret in the message are read too;
    # only the first record of each shape goes through orjson (the cardinality of the
    # three styles' key sets, plus nothing)
    assert declined <= 3


NUMBER = st.builds(
    lambda sign, whole, frac, exp: sign + whole + frac + exp,
    st.sampled_from(["", "-"]),
    st.one_of(st.sampled_from(["0", "1", "9", "00", "01"]), st.integers(0, 10**25).map(str)),
    st.one_of(st.just(""), st.sampled_from([".", ".0", ".5", ".05"]),
              st.integers(0, 10**20).map(lambda n: "." + str(n))),
    st.one_of(st.just(""), st.sampled_from(["e", "E+", "e-"]).flatmap(
        lambda e: st.one_of(st.just(e), st.integers(0, 400).map(lambda n: e + str(n))))))


@PROPS
@given(st.lists(st.one_of(NUMBER, st.floats(allow_nan=False, allow_infinity=False).map(repr),
                          st.integers(-(2**64), 2**64).map(str)), min_size=1, max_size=4))
def test_numbers_read_as_orjson_reads_them(texts):
    """As attributes, numbers become text with their type's formatting: 1 vs 1.0, and
    every bit of a float (orjson.dumps writes the shortest form that reads back)."""
    raw = ("{" + ",".join(f'"n{i}": {t}' for i, t in enumerate(texts)) + ', "msg": "m"}').encode()
    repeatedly(PAIRS["utc"], raw, OBSERVED, "t", 1, 9, False)


@pytest.mark.parametrize("raw", [
    b'{"msg": "a", "msg": "b"}', b'{"a.b": 1, "a": {"b": 2}, "msg": "m"}', b'{"a": {"b": 1}, "a.b": 2}',
    b'{"a": {"b": 1, "b": 2}}', b'{"attributes": {"x": 1}, "x": 2}', b'{"x": {"attributes": {"y": 1}}}',
    b'{"msg": "tab\\tand \\"quotes\\""}', b'{"msg": "caf\\u00e9"}', b'{"m\\u0073g": "escaped key"}',
    '{"msg": "café €"}'.encode(), '{"mßg": "non-ASCII key"}'.encode(), b'{"msg": "bad \xff utf-8"}',
    b'{"msg": "\xed\xa0\x80 surrogate"}', b'{"msg": "control \x01"}', b'{"msg": "m"} x', b'{"msg": "m"}}',
    b'[{"msg": "m"}]', b'"msg"', b"", b"{", b'{"msg"}', b'{"msg": }', b'{"msg": "m",}', b'{,"msg": "m"}',
    b'{"n": -0}', b'{"n": -0.0}', b'{"n": 1e400}', b'{"n": -1e400}', b'{"n": 1e-400}', b'{"n": 01}', b'{"n": .5}',
    b'{"n": 1.}', b'{"n": 1e}', b'{"n": +1}', b'{"n": 123456789012345678}', b'{"n": 1234567890123456789}',
    b'{"n": 18446744073709551616}', b'{"n": 9999999999999999999}', b'{"n": -9223372036854775809}',
    b'{"n": 999999999999999999}', b'{"n": -999999999999999999}', b'{"n": 0.1234567890123456789}', b'{"n": 12345678901234567.0}',
    b'{"n": NaN}', b'{"n": Infinity}', b'{"n": tru}', b'{"n": nulls}', b'{"n": [1, 2]}', b'{"n": {}}',
    b'{"n": { }, "m": {"x": {}}}', b'{}', b' { } ', b'{"msg": "m"}\x00', b'\xef\xbb\xbf{"msg": "m"}',
    b'{"ts": "2026-01-01T00:00:05.5Z", "service": {"name": "s", "version": "1"}, "msg": "m"}',
    b'{"resourceLogs": {"x": 1}, "msg": "an OTLP batch"}',
    b'{"' + b"k" * 255 + b'": 1}', b'{"' + b"k" * 256 + b'": 1}',
    b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(64)) + b"}",
    b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(65)) + b"}",
    b'{"a": ' * 16 + b"1" + b"}" * 16, b'{"a": ' * 17 + b"1" + b"}" * 17,
    b"{" + b",".join(b'"%s": 1' % (b"k" * 200 + b"%d" % i) for i in range(12)) + b"}",
])
def test_unusual_bytes(raw):
    for pair in PAIRS.values():
        repeatedly(pair, raw, OBSERVED, "t", 1, 9, False)


def test_records_with_the_same_keys_nested_otherwise_are_told_apart():
    p = Pair()
    records = [b'{"a": {"b": 1}, "c": 2}', b'{"a": {"b": 1, "c": 2}}', b'{"a": {"b": {"c": 2}}}',
               b'{"a": 1, "b": 1, "c": 2}', b'{"a": {}, "b": 1, "c": 2}', b'{"ab": 1, "c": 2}']
    for _ in range(3):
        for raw in records:
            from_bytes(p, raw, OBSERVED, "t", 1, 9, False)


@PROPS
@given(RECORDS, st.data())
def test_damaged_records_are_never_read_wrong(d, data):
    d = _json_safe(d)
    if type(d) is not dict:
        return
    raw = bytearray(orjson.dumps(d))
    p = PAIRS["utc"]
    repeatedly(p, bytes(raw), OBSERVED, "t", 1, 9, False)  # its template remembered
    for _ in range(3):
        i = data.draw(st.integers(0, len(raw)))
        damaged = data.draw(st.sampled_from(["cut", "byte", "insert"]))
        if damaged == "cut":
            raw = raw[:i]
        elif damaged == "byte" and i < len(raw):
            raw[i] = data.draw(st.sampled_from(b'{}[]":,\\ 0-.eE\xff\x00a'))
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=3))
        from_bytes(p, bytes(raw), OBSERVED, "t", 1, 9, False)


@pytest.mark.parametrize("call", [
    lambda e, raw: e(raw, OBSERVED, "t", 1, -1, False),  # a negative offset: the Python form's call
    lambda e, raw: e(raw, OBSERVED, "t", 1, 9, False, {"a": "b"}),  # a decoder's attributes
    lambda e, raw: e(raw, OBSERVED, "t", 1, 9, False, {"a": "b"}, 2),
    lambda e, raw: e(raw, 1767225600, "t", 1, 9, False),
    lambda e, raw: e(raw, OBSERVED, "t", "1", 9, False),
    lambda e, raw: e(raw, OBSERVED, "t", 1, 9, flat=False),
    lambda e, raw: e(bytearray(raw), OBSERVED, "t", 1, 9, False),
])
def test_calls_off_the_road_are_not_read(call):
    p = Pair()
    raw = b'{"ts": "2026-01-01T00:00:05.5Z", "msg": "m"}'
    for _ in range(2):
        result = outcome(call, p.c.event, raw)
        assert result == ("ok", NotImplemented) or result[0] == "raised"
        if result[0] == "raised":  # not bytes (a bytearray): the Python form's own error
            assert outcome(call, p.py.event, raw)[0] == "raised"


# -- metric samples and security events ------------------------------------------------------


def kind_from_bytes(p: KindPair, raw: bytes, topic="t", partition=1, offset=9) -> bool:
    """`from_bytes` for a metric sample or security event: against the Normalizer."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        d = None
    actual = kind_outcome(p.c.event, raw, OBSERVED, topic, partition, offset)
    fields = kind_outcome(p.cf.fields, raw, OBSERVED, topic, partition, offset)
    assert (actual == ("ok", NotImplemented)) == (fields == ("ok", NotImplemented))
    if actual == ("ok", NotImplemented):
        return False
    assert type(d) is dict, f"an event for what orjson does not read as an object: {raw!r}"
    assert "resourceLogs" not in d and "resourceMetrics" not in d, "an OTLP batch read as one event"
    expected = p.check(d, topic, partition, offset)
    assert actual == expected
    if fields[0] == "ok" and type(fields[1]) is tuple:
        keys = jsonfast._jsonlog.METRIC_FIELDS if p.kind == "metric" else jsonfast._jsonlog.SECURITY_FIELDS
        fields = ("ok", dict(zip(keys, fields[1], strict=True)))
    assert fields == expected
    return True


def kind_repeatedly(p: KindPair, raw: bytes, *args) -> bool:
    return [kind_from_bytes(p, raw, *args) for _ in range(3)][-1]


@PROPS
@given(st.sampled_from(sorted(KINDS)), KIND_RECORDS, st.sampled_from(sorted(TIMES)))
def test_generated_kind_records_read_from_their_bytes(kind, d, times):
    d = _json_safe(d)
    if type(d) is dict:
        for raw in spellings(d):
            kind_repeatedly(KIND_PAIRS[(kind, times)], raw)


@PROPS
@given(st.dictionaries(st.sampled_from(METRIC_ALIASES + FLAT_LABELS), FIELD_VALUES, max_size=8), NAMES, NUMBERS,
       st.sampled_from(["", *LABEL_KEYS]), LABELS, st.booleans())
def test_metric_samples_with_labels_of_every_shape_and_place(extra, name, value, label_key, labels, first):
    d = metric_sample(extra, name, value, label_key, labels)
    if first and label_key:  # the labels object first, or after the other keys
        d = {label_key: d.pop(label_key), **d}
    d = _json_safe(d)
    if type(d) is dict:
        for raw in spellings(d):
            kind_repeatedly(KIND_PAIRS[("metric", "utc")], raw)


@pytest.mark.parametrize(("kind", "d"), [("metric", d) for d in FIXED_METRICS]
                         + [("security", d) for d in FIXED_SECURITY])
def test_fixed_kind_records_read_from_their_bytes(kind, d):
    for raw in spellings(_json_safe(d)):
        kind_repeatedly(KIND_PAIRS[(kind, "utc")], raw)


@pytest.mark.parametrize("raw", [
    b'{"name": "m", "value": 1, "labels": {}}', b'{"labels": {"a": 1}, "name": "m", "value": 1.5}',
    b'{"a": {"b": 1}, "labels": {"x": 1, "y": "z"}, "c": {"d": 2}, "name": "m", "value": 2}',
    b'{"name": "m", "value": 1, "labels": {"x": 1}, "tags": {"y": 2}}',
    b'{"name": "m", "value": 1, "tags": {"y": 2}, "labels": {"x": 1}}',
    b'{"name": "m", "value": 1, "labels": {"x": 1, "x": 2}}', b'{"name": "m", "value": 1, "labels": {"x": 1}, '
    b'"labels": {"y": 2}}', b'{"name": "m", "value": 1, "labels": {"x": {"y": 1}}}',
    b'{"name": "m", "value": 1, "labels": {"x": {}}}', b'{"name": "m", "value": 1, "labels.x": 1}',
    b'{"name": "m", "value": 1, "labels": 7, "attributes": {"a": "b"}}',
    b'{"resourceMetrics": {"x": 1}, "name": "m", "value": 1}', b'{"resourceLogs": {}, "outcome": "success"}',
    b'{"outcome": "success", "user": {"name": "u"}, "source": {"ip": "10.0.0.1"}, "category": "authentication"}',
])
def test_unusual_kind_bytes(raw):
    for kind in KINDS:
        kind_repeatedly(KIND_PAIRS[(kind, "utc")], raw)


@pytest.mark.parametrize(("kind", "d"), [("metric", d) for d in FIXED_METRICS]
                         + [("security", d) for d in FIXED_SECURITY])
def test_an_array_element_with_its_index_reads_from_its_bytes_as_from_its_dict(kind, d):
    """The batch loop hands each element of a JSON array record over as its bytes,
    with its index (no decoder attributes or labels)."""
    p = KIND_PAIRS[(kind, "utc")]
    args = (OBSERVED, "t", 1, 9, None, 3) + ((None,) if kind == "metric" else ())
    for raw in spellings(_json_safe(d)):
        for _ in range(3):
            expected = kind_outcome(p.c.event, orjson.loads(raw), *args)
            actual = kind_outcome(p.c.event, raw, *args)
            assert actual == expected or actual == ("ok", NotImplemented)
        # taken exactly when the record alone (no index) is
        alone = kind_outcome(p.c.event, raw, *args[:4])
        assert (actual == ("ok", NotImplemented)) == (alone == ("ok", NotImplemented))


def test_a_labels_key_of_a_scalar_and_of_an_empty_object_are_told_apart():
    """The same keys, but labels a scalar (an attribute) or {} (the sample's labels)."""
    p = KindPair("metric")
    for _ in range(3):
        for raw in (b'{"name": "m", "value": 1, "labels": "x"}', b'{"name": "m", "value": 1, "labels": {}}',
                    b'{"name": "m", "value": 1, "tags": 7, "labels": {}}',
                    b'{"name": "m", "value": 1, "tags": {}, "labels": {}}'):
            kind_from_bytes(p, raw)


def test_the_kind_records_a_batch_repeats_are_read_from_their_bytes():
    pairs = {"metrics": KindPair("metric"), "security": KindPair("security")}
    records = kind_bench_records(3000, 7)
    declined = sum(not kind_from_bytes(pairs[topic.rsplit(".", 1)[-1]], raw, topic, i % 3, i)
                   for i, (raw, topic) in enumerate(records))
    assert len(records) > 300 and declined <= 2  # the first record of each kind's one shape


def test_more_templates_than_remembered():
    p = Pair()
    rnd = random.Random(5)
    for i in range(3000):
        k = rnd.randrange(40)
        raw = orjson.dumps({"ts": "2026-01-01T00:00:05.5Z", f"k{k}": i, "service": {"name": f"s{k % 3}"}})
        from_bytes(p, raw, OBSERVED, "t", 1, i, False)


def test_short_values_are_never_taken_for_one_another():
    """Short values are reused from a cache by a hash of their bytes: many of them, of
    every length up to the limit and past it, sharing slots."""
    p = Pair()
    rnd = random.Random(9)
    for i in range(4000):
        n = rnd.randrange(0, 24)
        value = "".join(rnd.choice("ab") for _ in range(n))
        raw = orjson.dumps({"msg": "m", "service": value, "level": rnd.choice(["info", "warn", value]), "x": value})
        from_bytes(p, raw, OBSERVED, "t", 1, i, False)


def test_no_memory_is_kept_per_call():
    j = JsonLogs(TimeParser(reject_out_of_range=True), accelerate=True)
    records = _bench_records(30, 5) + [b'{"ts": "2099-01-01T00:00:00.000Z", "msg": "m"}', b'{"msg": "m"} x',
                                       b'{"n": [1]}', b'{"a": {"b": 1}, "a.b": 2}', b'{"resourceLogs": {}}',
                                       b'{"n": 1e400, "m": "declined after a leaf"}']

    def run(n):
        for i in range(n):
            try:
                j.event(records[i % len(records)], OBSERVED, "t", 1, i % 100, False)
                j.fields(records[i % len(records)], OBSERVED, "t", 1, i % 100, False)
            except Exception:  # the errors are part of what is run
                pass

    grown = bytes_kept(run, 5000, 30000)
    assert grown < 64 * 1024, f"{grown} bytes kept after 30,000 calls"
