"""The C form of `JsonMetrics.event` and `JsonSecurity.event` (streams/ingest/_jsonlog.c)
gives exactly what `Normalizer.metric` and `Normalizer.security` give: the same event
(keys, order, value types and values), the same exception (type, message, dead-letter
reason and detail), on generated records, on the benchmark's records, on the corpus
and on what the decoders hand over (attributes, labels, indexes).

The tests of the C form skip when the extension is not built (no C compiler when the
package was installed); the Python form then is the Normalizer itself.
"""

from __future__ import annotations

import copy
import gc
import math
import random
import weakref
from collections import OrderedDict
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import DecodeError
from streams.ingest import decoders, jsonfast
from streams.ingest.decoders import otlp
from streams.ingest.decoders.base import DecodeContext
from streams.ingest.jsonfast import JsonMetrics, JsonSecurity
from streams.ingest.normalize import _METRIC, _SECURITY, METRIC_TYPES, OUTCOMES, Normalizer
from streams.ingest.timeparse import TimeParser
from tests.unit.streams.ingest.accel_checks import bytes_kept
from tests.unit.streams.ingest.corpus import CORPUS, OBSERVED
from tests.unit.streams.ingest.test_jsonlog_accel import (
    FLOATS,
    ISO,
    NUMBER_TIMES,
    OFFSETS,
    PROPS,
    SCALARS,
    TEXTS,
    TIMES,
    UUIDS,
    VALUES,
    _json_safe,
    typed,
)

needs_c = pytest.mark.skipif(
    jsonfast._jsonlog is None,
    reason="streams.ingest._jsonlog is not built (no C compiler at install time): only the Python path runs")
KINDS = {"metric": JsonMetrics, "security": JsonSecurity}


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except DecodeError as exc:
        return "raised", (type(exc), str(exc), exc.reason, exc.detail)
    except Exception as exc:  # the two forms must raise the same thing
        return "raised", (type(exc), str(exc))


def same(a, b) -> None:
    assert typed(a) == typed(b)
    assert a == b
    if a[0] == "ok":
        assert orjson.dumps(a[1], option=orjson.OPT_NON_STR_KEYS) == orjson.dumps(b[1], option=orjson.OPT_NON_STR_KEYS)


class Pair:
    """The Normalizer and the C form of one kind, each with its own TimeParser, fed the
    same calls."""

    def __init__(self, kind: str, **times):
        self.kind = kind
        self.times = times
        self.fresh()

    def fresh(self):
        self.py = Normalizer(TimeParser(**self.times))
        self.c = KINDS[self.kind](TimeParser(**self.times), accelerate=True)
        assert self.c.accelerated and type(self.c.event).__name__ == "Events"
        # called in fields mode only, by `check` only (its caches lag when a test calls `c` alone)
        self.cf = KINDS[self.kind](TimeParser(**self.times), accelerate=True)

    def check(self, d, topic="t", partition=1, offset=9, attributes=None, index=0, labels=None):
        if len(self.c.plans) > jsonfast._PLAN_LIMIT // 2:
            self.fresh()
        coords = (topic, partition, offset, index)
        if self.kind == "metric":
            expected = outcome(self.py.metric, copy.deepcopy(d), OBSERVED, coords, copy.deepcopy(attributes),
                               copy.deepcopy(labels))
            args = (OBSERVED, topic, partition, offset, copy.deepcopy(attributes), index, copy.deepcopy(labels))
        else:
            expected = outcome(self.py.security, copy.deepcopy(d), OBSERVED, coords, copy.deepcopy(attributes))
            args = (OBSERVED, topic, partition, offset, copy.deepcopy(attributes), index)
        actual = outcome(self.c.event, copy.deepcopy(d), *copy.deepcopy(args))
        same(expected, actual)
        # fields mode: the same event as the tuple of its values (a dict when Python built it)
        fields = outcome(self.cf.fields, copy.deepcopy(d), *copy.deepcopy(args))
        if fields[0] == "ok" and type(fields[1]) is tuple:
            keys = jsonfast._jsonlog.METRIC_FIELDS if self.kind == "metric" else jsonfast._jsonlog.SECURITY_FIELDS
            fields = ("ok", dict(zip(keys, fields[1], strict=True)))
        same(expected, fields)
        assert self.c.times.iso_cache == self.py.times.iso_cache
        return actual


# -- generated records ------------------------------------------------------------------------

METRIC_ALIASES = sorted({k for keys in _METRIC for k in keys})
SECURITY_ALIASES = sorted({k for keys in _SECURITY for k in keys})
LABEL_KEYS = ["labels", "tags", "dimensions", "attributes"]
FLAT_LABELS = ["labels.route", "tags.x", "dimensions.dc", "attributes.y", "labels.", "labels.a.b", "tagsx"]
NESTED = ["metric", "event", "user", "source", "client", "service", "host", "labels", "tags", "resource", "target",
          "kind", "a"]
KEYS = st.one_of(
    st.sampled_from(METRIC_ALIASES), st.sampled_from(SECURITY_ALIASES), st.sampled_from(LABEL_KEYS),
    st.sampled_from(FLAT_LABELS), st.sampled_from(NESTED),
    st.sampled_from(["kind", "sluice.source_event_id", "level", "status", "ip", "x", "a.b", "", "ünï"]),
    st.text(max_size=6))
SPELLINGS = sorted({*OUTCOMES, *METRIC_TYPES, "SUCCESS", " Failed ", "Denied", "GAUGE", "Counter", "unknown", "İ",
                    "authentication", "Authentication", "AUTH", "ünï", "", " "})
FIELD_VALUES = st.one_of(SCALARS, st.sampled_from(SPELLINGS),
                         st.lists(st.one_of(st.sampled_from(SPELLINGS), SCALARS), max_size=3))
NUMBERS = st.one_of(FLOATS, st.integers(), st.integers(-(2**2000), 2**2000), st.booleans(), st.none(),
                    st.sampled_from(["1.5", " 7 ", "1_000", "nan", "-inf", "x", "", "1e400", "0x10"]),
                    st.lists(FLOATS, max_size=2))
NAMES = st.one_of(st.sampled_from(["http_requests_total", "queue_depth", "", "x" * 300, "ünï", "İ'\"\\"]),
                  SCALARS, st.lists(st.text(max_size=3), max_size=2))
LABELS = st.one_of(st.dictionaries(st.text(max_size=5), SCALARS, max_size=4), VALUES, st.just({}))
RECORDS = st.dictionaries(KEYS, VALUES, max_size=12)
ATTRIBUTES = st.one_of(st.none(), st.just({}), st.dictionaries(
    st.sampled_from(["sluice.format", "kind", "category", "name", "ts", "x", "route"]), st.text(max_size=5),
    max_size=3))
DECODER_LABELS = st.one_of(st.none(), st.just({}), st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                                   max_size=3))
CALLS = st.tuples(st.sampled_from(["t", "metrics.raw", "ünï"]), st.sampled_from([0, 1, 7, 2**40]), OFFSETS,
                  ATTRIBUTES, st.sampled_from([0, 0, 0, 1, 3, 65535, 65536]))

PAIRS = ({(kind, name): Pair(kind, **times) for kind in KINDS for name, times in TIMES.items()}
         if jsonfast._jsonlog is not None else {})


def metric_sample(extra: dict, name, value, label_key: str, labels) -> dict:
    d = {"name": name, "value": value}
    if label_key:
        d[label_key] = labels
    d.update(extra)
    return d


@needs_c
@PROPS
@given(st.sampled_from(sorted(KINDS)), RECORDS, st.lists(VALUES, min_size=12, max_size=12), CALLS,
       st.sampled_from(sorted(TIMES)), DECODER_LABELS)
def test_generated_records_give_what_the_normalizer_gives(kind, d, other_values, call, times, labels):
    topic, partition, offset, attributes, index = call
    p = PAIRS[(kind, times)]
    p.check(d, topic, partition, offset, attributes, index)
    p.check(d, topic, partition, offset, attributes, index)  # the same keys again: a remembered shape
    p.check(dict(zip(d, other_values, strict=False)), topic, partition, offset, attributes, index)
    if kind == "metric":
        p.check(d, topic, partition, offset, attributes, index, labels)


@needs_c
@PROPS
@given(st.dictionaries(st.sampled_from(METRIC_ALIASES + FLAT_LABELS), FIELD_VALUES, max_size=8), NAMES, NUMBERS,
       st.sampled_from(["", *LABEL_KEYS]), LABELS, st.sampled_from(sorted(TIMES)), DECODER_LABELS)
def test_metric_samples_give_what_the_normalizer_gives(extra, name, value, label_key, labels, times, given_labels):
    """Odd names and values, labels of every shape and place."""
    p = PAIRS[("metric", times)]
    d = metric_sample(extra, name, value, label_key, labels)
    for _ in range(2):
        p.check(d)
        p.check(d, "t", 1, 9, {"sluice.format": "x", "kind": "y"}, 2, given_labels)
        p.check(metric_sample(extra, name, value, label_key, labels), "t", 1, 9, None, 0, given_labels)


@needs_c
@PROPS
@given(st.dictionaries(st.sampled_from(SECURITY_ALIASES), FIELD_VALUES, min_size=1, max_size=10),
       st.sampled_from(sorted(TIMES)))
def test_security_fields_read_as_the_normalizer_reads_them(d, times):
    """Every key an alias of a field: outcomes, categories, levels, ids, times."""
    p = PAIRS[("security", times)]
    p.check(d)
    p.check(d, "t", 1, 9, {"a": "b", "kind": "k"}, 2)


@needs_c
@PROPS
@given(st.sampled_from(sorted(KINDS)), RECORDS, CALLS)
def test_json_records_give_what_the_normalizer_gives(kind, d, call):
    """Records as orjson hands them over: its key objects, no nan, ints within 64 bits."""
    topic, partition, offset, attributes, index = call
    d = _json_safe(d)
    if type(d) is not dict:
        return
    raw = orjson.dumps(d)
    p = PAIRS[(kind, "utc")]
    for _ in range(2):
        p.check(orjson.loads(raw), topic, partition, offset)
        p.check(orjson.loads(raw), topic, partition, offset, attributes, index)


@needs_c
@PROPS
@given(st.sampled_from(["ts", "timestamp", "@timestamp", "time", "timeUnixNano"]),
       st.one_of(ISO, NUMBER_TIMES, TEXTS, UUIDS), st.sampled_from(sorted(TIMES)))
def test_times_read_as_the_normalizer_reads_them(key, raw, times):
    PAIRS[("metric", times)].check({"name": "m", "value": 1.5, key: raw})
    PAIRS[("security", times)].check({"outcome": "ok", key: raw, "user": {"name": "u"}})


# -- fixed examples ---------------------------------------------------------------------------


def _bench_records(n: int, seed: int) -> list[tuple[bytes, str]]:
    from benchmarks.bench_ingest import record
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        raw, topic = record(rnd, i)
        if topic.rsplit(".", 1)[-1] in ("metrics", "security") and raw[:1] == b"{":
            out.append((raw, topic))
    return out


@needs_c
@pytest.mark.parametrize("seed", [7, 11])
def test_benchmark_records(seed):
    pairs = {"metrics": Pair("metric"), "security": Pair("security")}
    records = _bench_records(3000, seed)
    assert len(records) > 300
    for i, (raw, topic) in enumerate(records):
        p = pairs[topic.rsplit(".", 1)[-1]]
        p.check(orjson.loads(raw), topic, i % 3, i)
        p.check(orjson.loads(raw), topic, i % 3, i, {"sluice.format": "json"}, i % 2)


def _corpus_json(name: str) -> list[dict]:
    return [orjson.loads(line) for line in (CORPUS / "json" / name).read_bytes().splitlines() if line.strip()]


@needs_c
@pytest.mark.parametrize(("kind", "name"), [("metric", "metrics.metrics.jsonl"),
                                            ("security", "security.security.jsonl")])
def test_corpus_records(kind, name):
    p = Pair(kind)
    records = _corpus_json(name)
    assert records
    for i, d in enumerate(records):
        if type(d) is dict:
            for offset in (i, 2**48):
                p.check(d, "t", 0, offset)


def _decoded(path: Path) -> list:
    ctx = DecodeContext(OBSERVED, TimeParser(), stream=path.name.split(".")[-2])
    data = path.read_bytes()
    values = [data] if path.suffix in (".prom", ".json") else data.splitlines()
    out = []
    for value in values:
        try:
            if path.parent.name == "otlp":
                out.extend(otlp.from_object(orjson.loads(value), ctx))
            else:
                out.extend(decoders.decode(value, "auto", ctx))
        except DecodeError:
            continue
    return out


@needs_c
@pytest.mark.parametrize(("fmt", "path"), [
    (fmt, path) for fmt in ("cef", "prometheus", "otlp", "auth") for path in sorted((CORPUS / fmt).iterdir())
    if path.is_file() and not path.name.endswith(".expected.jsonl")])
def test_what_the_decoders_hand_over(fmt, path):
    """A decoder's fields, attributes, labels and the event's index in its record."""
    pairs = {kind: Pair(kind) for kind in KINDS}
    for index, rec in enumerate(_decoded(path)):
        kind = rec.kind or {"metrics": "metric", "security": "security"}.get(path.name.split(".")[-2])
        if kind not in pairs:
            continue
        labels = rec.labels if kind == "metric" else None
        pairs[kind].check(rec.fields, "t", 2, 77, rec.attributes, index, labels)


FIXED_METRICS = [
    {"name": "m", "value": 1, "labels": {"a": 1, "b": None, "c": [1, "x"], "d": {}, "e": math.nan}},
    {"name": "m", "value": True},
    {"name": "m", "value": 2**1100},
    {"name": "m", "value": -(2**80), "type": "COUNTER", "unit": 3},
    {"name": "m", "value": "12.5", "type": ["c"], "metric.unit": "ms"},
    {"name": "m", "value": math.inf},
    {"name": "m", "value": math.nan},
    {"name": "m", "value": "nan"},
    {"name": "", "value": 1.0},
    {"name": 7, "value": 1.0},
    {"value": 1.0},
    {"name": "m"},
    {"name": "x" * 300, "value": [1]},
    {"name": "m", "value": 1.0, "labels": "not a dict", "tags": {"t": 1}},
    {"name": "m", "value": 1.0, "labels": {"a": {"b": {"c": 1}}, "attributes": {"x": 1}}},
    {"name": "m", "value": 1.0, "labels.b": 2, "tags.a": 1, "labels.a": 3, "attributes.z": [1]},
    {"name": "m", "value": 1.0, "attributes": {"service.name": "svc", "host": {"name": "h"}}},
    {"metric": {"name": "m", "value": 4, "type": "c"}, "labels": {}, "tenant": 0, "service": {"name": ""}},
    {"__name__": "m", "gauge": 1.5, "kind": "x", "event_id": 42, "ts": "not a time"},
    {"name": "m", "value": 1.0, "event_id": "0191E2B4-5C8A-7D3E-9F1A-2B3C4D5E6F70", "ts": "2099-01-01T00:00:00Z"},
    {"name": "m", "value": 1.0, "eventId": "0191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6fg0", "timeUnixNano": "1767225598123"},
    {"name": "m", "value": 1.0, "big": 2**200, "list": [2**70], "nested": {"a": [{"b": 2**70}]}},
]
FIXED_SECURITY = [
    {"outcome": "SUCCESS", "category": ["Authentication", "iam"], "user": {"name": "u"}, "source": {"ip": "1.2.3.4"}},
    {"outcome": " Denied ", "category": [], "action": 7, "actor": None, "target": ["a", "b"], "level": "warn"},
    {"outcome": True, "category": "", "event": {"outcome": "failure", "category": "x", "action": "login"}},
    {"outcome": 1, "category": {"a": 1}, "severity_number": "13", "message": {"text": "m"}},
    {"status": "ok", "category": "İ", "severity": 60, "src": "10.0.0.1", "duser": "root"},
    {"result": [1, 2], "category": [None], "severityNumber": math.inf, "msg": None},
    {"outcome": "weird", "category": "ünï", "principal": 3.5, "kind": "y", "mfa": "totp", "extra": math.nan},
    {"outcome": None, "category": None, "event_id": [1], "ts": 2**1100, "level": [1, 2]},
    {"outcome": "allow", "category": "Login", "ts": "1990-01-01T00:00:00.000Z", "tenant": "", "host": 7},
    {},
]


@needs_c
@pytest.mark.parametrize("times", sorted(TIMES))
@pytest.mark.parametrize(("kind", "d"), [("metric", d) for d in FIXED_METRICS]
                         + [("security", d) for d in FIXED_SECURITY])
def test_fixed_records(kind, d, times):
    p = PAIRS[(kind, times)]
    for offset in (9, 2**48, 0):
        p.check(d, "t", 1, offset)
        p.check(d, "t", 1, offset, {"sluice.format": "x", "kind": "y"}, 2)
        p.check(d, "t", 1, offset, {}, 0, {"given": "label"} if kind == "metric" else None)


# -- what the C form hands to the Python form -------------------------------------------------


@needs_c
@pytest.mark.parametrize("call", [
    lambda e, d: e(d, OBSERVED, "t", 1, 9, attributes={"a": "b"}),  # keywords
    lambda e, d: e(d, OBSERVED, "t", 1, 9, None, 0, None, "extra"),  # too many: the Python TypeError
    lambda e, d: e(d, OBSERVED, "t", 1),  # too few: the Python TypeError
    lambda e, d: e(d, 1767225600, "t", 1, 9),  # an int observed time
    lambda e, d: e(d, OBSERVED, "t", 1, -1),  # a negative offset
    lambda e, d: e(d, OBSERVED, "t", 1, 9, None, True),  # index not an int
    lambda e, d: e(d, OBSERVED, b"t", 1, 9),
    lambda e, d: e(d, OBSERVED, "t", "1", 9),
    lambda e, d: e(OrderedDict(d), OBSERVED, "t", 1, 9),
    lambda e, d: e({**d, 1: "int key"}, OBSERVED, "t", 1, 9),
    lambda e, d: e({**d, "n": {1: "int key"}}, OBSERVED, "t", 1, 9),
    lambda e, d: e({**d, "labels": OrderedDict(a=1)}, OBSERVED, "t", 1, 9),
])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unusual_calls_are_the_python_forms(call, kind):
    d = {"ts": "2026-01-01T00:00:05.5Z", "name": "m", "value": 1.0, "outcome": "ok", "service": {"name": "s"}}
    py = KINDS[kind](TimeParser(), accelerate=False)
    c = KINDS[kind](TimeParser(), accelerate=True)
    for _ in range(2):
        same(outcome(lambda: call(py.event, copy.deepcopy(d))), outcome(lambda: call(c.event, copy.deepcopy(d))))


@needs_c
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_deep_records_are_the_python_forms(kind):
    p = Pair(kind)
    for depth in (150, 250, 400):
        d = leaf = {}
        for i in range(depth):
            leaf[f"k{i % 3}"] = {}
            leaf = leaf[f"k{i % 3}"]
        leaf["msg"] = "deep"
        p.check({"ts": 1767225598.0, "name": "m", "value": 1, "a": d})


@needs_c
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_many_shapes(kind):
    # more shapes than the C form remembers (it forgets the oldest), plans past their limit
    p = Pair(kind)
    rnd = random.Random(3)
    for i in range(3000):
        shape = rnd.randrange(40)
        d = {"name": "m", "value": i, f"k{shape}": 1, "service": {"name": f"s{shape}"}, "outcome": "ok",
             "labels": {f"l{shape}": i}}
        if i % 3 == 0:
            d["nested"] = {f"n{i}": {"x": i, "y": [i]}}
        p.check(d, "t", i % 2, i)


# -- the switch, memory ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pure_python_is_the_normalizer(monkeypatch, kind):
    monkeypatch.setenv("SLUICE_PURE_PYTHON", "1")
    j = KINDS[kind](TimeParser())
    assert not j.accelerated and j.event.__func__ is KINDS[kind].event
    ev = j.event({"name": "m", "value": 2, "outcome": "ok"}, OBSERVED, "t", 1, 9)
    assert ev["kind"] == kind and ev["event_id"] == Normalizer().metric({"name": "m", "value": 2}, OBSERVED,
                                                                         ("t", 1, 9, 0))["event_id"]


@needs_c
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_instances_are_collected_and_copies_bound_to_their_own(kind):
    import pickle
    refs = []
    for _ in range(20):
        j = KINDS[kind](TimeParser(), accelerate=True)
        j.event({"name": "m", "value": 1, "a": {"b": 1}}, OBSERVED, "t", 1, 9)
        refs.append(weakref.ref(j))
    for partition, twin in enumerate((pickle.loads(pickle.dumps(j)), copy.deepcopy(j), copy.copy(j)), start=2):
        assert twin.accelerated and type(twin.event).__name__ == "Events"
        assert twin.event({"name": "m", "value": 1}, OBSERVED, "t", partition, 9)["kind"] == kind
        assert ("t", partition) in twin.prefixes
    del j, twin
    gc.collect()
    assert all(r() is None for r in refs)


@needs_c
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_memory_is_kept_per_call(kind):
    """Every path, errors and hand-overs included, run over and over: memory does not grow."""
    j = KINDS[kind](TimeParser(reject_out_of_range=True), accelerate=True)
    records = [orjson.loads(raw) for raw, _ in _bench_records(300, 5)] + FIXED_METRICS + FIXED_SECURITY + [
        {"name": "m", "value": 1, "ts": "2099-01-01T00:00:00.000Z"},
        {"name": "m", "value": 1, "x": {1: 2}},
        {1: "int key"},
    ]

    def run(n):
        for i in range(n):
            d = records[i % len(records)]
            args = (copy.copy(d), OBSERVED, "t", 1, i % 100, {"a": "b", "kind": "k"} if i % 3 == 0 else None, i % 2)
            if kind == "metric" and i % 5 == 0:
                args = (*args, {"l": "v"})
            try:
                j.event(*args)
            except Exception:  # the errors are part of what is run
                pass

    grown = bytes_kept(run, 3000, 20000)
    assert grown < 64 * 1024, f"{grown} bytes kept after 20,000 calls"


@pytest.mark.parametrize("accelerate", [False, True] if jsonfast._jsonlog is not None else [False])
def test_a_first_offset_beyond_48_bits_leaves_the_ids_of_the_partition_as_they_are(accelerate):
    from schemas.ids import stable_event_id
    logs = jsonfast.JsonLogs(TimeParser(), accelerate=accelerate)
    metrics = JsonMetrics(TimeParser(), accelerate=accelerate)
    for offset in (2**48, 2**64, 5, 2**48 + 1, 6):
        expected = stable_event_id("t", 0, offset)
        assert logs.event({"msg": "m"}, OBSERVED, "t", 0, offset, True)["event_id"] == expected
        assert metrics.event({"name": "m", "value": 1}, OBSERVED, "t", 0, offset)["event_id"] == expected
