"""The C forms of the end of ingest give exactly what the Python forms give:
`_hotloop.deliver` = hotloop.deliver, `_hotloop.run` = the Python per-record loop of
`Ingestor._process`, `_cardscan.card_candidate` = the serialized-run test of
`Redactor.cards` (the same outcome; it only looks at fewer events). The loop covers
JSON logs, metric samples and security events; everything else goes to Python.

They skip when the extensions are not built (no C compiler at install time).
"""

from __future__ import annotations

import copy
import struct
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import bench_ingest
from schemas import source
from schemas.ids import stable_event_id
from schemas.topics import STREAMS, Topics
from streams.ingest import hotloop, redact
from streams.ingest.enrich import Enricher
from streams.ingest.pipeline import IngestConfig, Ingestor, IngestOutput
from tests.unit.streams.ingest.accel_checks import props, switched
from tests.unit.streams.ingest.corpus import OBSERVED

needs_c = pytest.mark.skipif(hotloop._hotloop is None or redact._cardscan is None,
                             reason="streams.ingest._hotloop/_cardscan are not built (no C compiler at install "
                                    "time): only the Python path runs")
PROPS = props(300)
ROOT = Path(__file__).resolve().parents[4]
TABLES = {"services": ROOT / "config/enrichment/services.yaml", "hosts": ROOT / "config/enrichment/hosts.csv"}
T = Topics("p")


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the two forms must raise the same thing
        return "raised", type(exc)


def output(out: IngestOutput) -> tuple:
    return out.by_topic, out.dropped, out.redacted, out.skipped, out.events, out.event_sources


def ingestors(cfg: IngestConfig | None = None) -> tuple[Ingestor, Ingestor]:
    c = Ingestor(T, cfg)
    assert c._loop is hotloop._hotloop.run and c._deliver is hotloop._hotloop.deliver
    py = Ingestor(T, cfg)
    py._loop, py._deliver = None, hotloop.deliver
    return py, c


def both(records, cfg=None, keep=True) -> None:
    py, c = ingestors(cfg)
    with_python_cards = redact._may_hold_card
    try:
        redact._may_hold_card = redact._serialized_run
        expected = output(py.process(copy.deepcopy(records), OBSERVED, keep_events=keep))
        redact._may_hold_card = redact._scanned_run
        actual = output(c.process(copy.deepcopy(records), OBSERVED, keep_events=keep))
    finally:
        redact._may_hold_card = with_python_cards
    assert repr(actual) == repr(expected)  # key order and value types too


# -- the batch loop ------------------------------------------------------------------------------


@needs_c
@pytest.mark.parametrize("keep", [True, False])
def test_the_benchmark_corpus_gives_the_same_output(keep):
    records = [(v, T.raw(t.rsplit(".", 1)[-1]), p, o) for v, t, p, o in bench_ingest.corpus(6000)]
    both(records, IngestConfig(enrichment=TABLES), keep)
    both(records, None, keep)


@needs_c
def test_many_topics_each_a_str_of_its_own():
    """The loop remembers the routes of a batch's first topics by their text: more topics
    than it remembers, topics of one length, a topic not routed, non-ASCII topics, and
    every record's topic a new str object (as confluent-kafka hands them over)."""
    topics = [T.raw("logs"), T.raw("metrics"), T.raw("security"), "p.raw.metricz", "p.raw.lögs", "unrouted",
              T.raw("logs") + "", "p.raw.securitx"]
    sample = {"ts": "2026-01-01T00:00:05.5Z", "msg": "m", "name": "n", "value": 1.5, "outcome": "success"}
    records = [(orjson.dumps(sample), "".join(list(topics[i % len(topics)])), i % 2, i) for i in range(200)]
    both(records)
    both(records, keep=False)


@needs_c
def test_records_that_leave_the_road_take_the_python_path():
    records = [
        (b'{"msg": "ok", "service": "payments-api", "host": "pay-01"}', T.raw("logs"), 0, 1),
        (b'{"msg": broken', T.raw("logs"), 0, 2),  # not JSON
        (b'{"msg": "\xff"}', T.raw("logs"), 0, 3),  # invalid UTF-8
        (None, T.raw("logs"), 0, 4),  # tombstone
        (b"{" + b" " * 2_000_000 + b"}", T.raw("logs"), 0, 5),  # oversize
        (b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "otlp"}}]}]}]}',
         T.raw("logs"), 0, 6),
        (b'[{"msg": "array"}]', T.raw("logs"), 0, 7),
        (b"level=info msg=logfmt", T.raw("logs"), 0, 8),
        (b'{"name": "m", "value": 1}', T.raw("metrics"), 0, 9),
        (b'{"name": "m", "value": "nan"}', T.raw("metrics"), 0, 15),  # non-finite: a schema violation
        (b'{"value": 1}', T.raw("metrics"), 0, 16),
        (b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "g", "gauge": {"dataPoints": '
         b'[{"asDouble": 1.5}]}}]}]}]}', T.raw("metrics"), 0, 17),
        (b'{"user": "alice", "outcome": "FAILURE", "category": ["authentication"]}', T.raw("security"), 0, 18),
        (b'{"msg": "card 4111 1111 1111 1111", "service": "s"}', T.raw("logs"), 1, 10),
        (b'{"msg": "password=hunter2", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}', T.raw("logs"), 1, 11),
        (b'{"msg": "x", "event_id": "not-a-uuid", "ts": "garbage"}', T.raw("logs"), 2, 2**63),
        (b'{"msg": "x"}', "someone.elses.topic", 0, 12),
        (b"", T.raw("logs"), 0, 13),
        (b'{"msg": "x", "tenant": "\xc3\xbc", "service": "caf\xc3\xa9"}', T.raw("logs"), 0, 14),
    ]
    both(records, IngestConfig(enrichment=TABLES))
    both(records)


TEXT = [
    b"<38>Dec 31 23:59:50 bastion-01 sshd[4242]: Failed password for root from 203.0.113.9 port 50022 ssh2",
    b'<165>1 2025-12-31T23:59:50.123Z gw-01 api 77 ID47 [meta@32473 region="eu-west-1"] card 4111 1111 1111 1111',
    b'203.0.113.9 - - [31/Dec/2025:23:59:40 +0000] "GET /v1/charges HTTP/1.1" 200 5120 "-" "curl/8"',
    b'ts=2025-12-31T23:59:50Z level=warn service=ledger msg="password=hunter2 rejected" duration_ms=4',
    b"CEF:0|Acme|WAF|1.0|100|blocked|7|src=203.0.113.9 suser=alice act=blocked",
    b"[Sun Dec 31 23:59:50 2025] [error] [client 203.0.113.9] File does not exist: /var/www/favicon.ico",
    b"plain text line with no structure at all",
    b"   \t  ",  # blank: a dead letter
    b"\xff\xfe not UTF-8",
    b"# TYPE q gauge\nq 1\nq{a=\"b\"} NaN\nq{a=\"c\"} 3\n",  # one sample skipped (not finite)
    b"# TYPE q gauge\nq NaN\n",  # every sample fails: a dead letter
    b"# TYPE r counter\nr_total 1\nr_total{x=\"1\"} 2\nr_total{x=\"2\"} 3\n",  # over the limit of 2
    b'[{"msg": "a"}, {"msg": "b"}, 7]',
]


@needs_c
def test_text_records_go_through_the_decoders_the_same_way():
    records = [(v, T.raw(stream), i % 3, i) for i, v in enumerate(TEXT) for stream in ("logs", "metrics", "security")]
    both(records, IngestConfig(enrichment=TABLES, max_events_per_record=2))
    both(records, IngestConfig(auth_as_security=False))
    both(records, IngestConfig(formats={T.raw("logs"): "syslog", "metrics": "prometheus"}))


ARRAYS = [
    b'[{"msg": "a", "service": "payments"}, {"msg": "b", "event_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}]',
    b'[ {"msg": "a"} ,\n{"msg": "b", "nested": {"x": [1, {"y": "}"}]}}\t] \n',
    b'[{"msg": "a \\" ] } still a string"}, {"msg": "card 4111 1111 1111 1111"}]',
    b'[{"msg": "say \\"hi\\" [ {", "path": "C:\\\\tmp\\\\"}, {"msg": "\\\\\\"}"}]',  # escaped quotes, backslash runs
    b'[{"msg": "x"}, {"msg": broken}]',  # an element not JSON: the record is a text line
    b'[{"msg": "x"}, 7]', b'[{"msg": "x"},]', b'[{"msg": "x"}] trailing', b'[{"msg": "x"}', b"[]", b"[ ]",
    b'[{"msg": "x"}, {"msg": "\xff"}]',  # invalid UTF-8 in an element
    b'[{"name": "m", "value": 1}, {"name": "m", "value": "nan"}, {"value": 2}]',  # some fail: skipped
    b'[{"name": "m", "value": "nan"}, {"value": 2}]',  # all fail: a dead letter
    b'[{"outcome": "FAILURE", "user": "alice", "category": "authentication"}, {"user": {"name": "bob"}}]',
    b'[{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "otlp"}}]}]}]}, {"msg": "y"}]',
    b'[{"msg": "a"}, {"msg": "b"}, {"msg": "c"}]',  # over max_events_per_record=2 in one config
    b"[Sun Dec 31 23:59:50 2025] [error] [client 203.0.113.9] not an array",
]


@needs_c
def test_json_array_records_give_the_same_output():
    records = [(v, T.raw(stream), i % 3, 100 + i) for i, v in enumerate(ARRAYS) for stream in STREAMS]
    corpus = [(v, t.rsplit(".", 1)[-1]) for v, t, _, _ in bench_ingest.corpus(400) if v[:1] == b"{"]
    for stream in STREAMS:  # arrays as the demo collector publishes them
        objects = [v for v, s in corpus if s == stream]
        records += [(b"[" + b",".join(objects[k:k + 20]) + b"]", T.raw(stream), 1, k) for k in range(0, 60, 20)]
    both(records, IngestConfig(enrichment=TABLES))
    both(records, IngestConfig(max_events_per_record=2))
    both(records, None, keep=False)


@needs_c
def test_a_normalizer_failure_inside_a_multi_event_record_is_skipped_in_both():
    def broken(*args, **kwargs):
        raise RuntimeError("normalizer bug")

    records = [(b"# TYPE q gauge\nq 1\nq 2\n", T.raw("metrics"), 0, 1), (b"level=info msg=x", T.raw("logs"), 0, 2)]
    py, c = ingestors()
    for ing in (py, c):
        ing._json_logs.kinds["metric"].event = broken
    expected = output(py.process(copy.deepcopy(records), OBSERVED))
    actual = output(c.process(copy.deepcopy(records), OBSERVED))
    assert repr(actual) == repr(expected) and actual[1] == {"internal_error": 1}


@needs_c
def test_a_failure_after_the_event_exists_is_a_dead_letter_in_both():
    def broken(service, host):
        raise RuntimeError("table gone")

    records = [(b'{"msg": "x", "service": "s%d"}' % i, T.raw("logs"), 0, i) for i in range(3)]
    py, c = ingestors(IngestConfig(enrichment=TABLES))
    py.enricher._resolve = c.enricher._resolve = broken
    expected = output(py.process(copy.deepcopy(records), OBSERVED))
    actual = output(c.process(copy.deepcopy(records), OBSERVED))
    assert actual == expected and actual[1] == {"internal_error": 3}


@needs_c
def test_an_interrupt_is_not_swallowed():
    def interrupted(service, host):
        raise KeyboardInterrupt

    _, c = ingestors(IngestConfig(enrichment=TABLES))
    c.enricher._resolve = interrupted
    with pytest.raises(KeyboardInterrupt):
        c.process([(b'{"msg": "x"}', T.raw("logs"), 0, 1)], OBSERVED)


@needs_c
def test_partitions_that_share_a_cache_slot_keep_their_own_ids_and_sources():
    """The event-id prefixes and source heads are remembered per partition number
    modulo 16: 0, 16 and 32 share a slot, as do two topics' partition 5."""
    records = [(v, T.raw(t.rsplit(".", 1)[-1]), (0, 16, 32, 5, 21, 48)[i % 6], o)
               for i, (v, t, _, o) in enumerate(bench_ingest.corpus(600))]
    records += [(b'{"msg": "x"}', topic, 5, 7) for topic in (T.raw("logs"), T.raw("security"), "x")]
    both(records, IngestConfig(enrichment=TABLES))
    _, c = ingestors()
    out = c.process(records, OBSERVED, keep_events=True)
    # none of these records carries an id of its own: each event's is its coordinates'
    assert [ev["event_id"] for ev in out.events] == [stable_event_id(*coords) for coords in out.event_sources]
    refs = sorted(source.parse(ref) for items in out.by_topic.values() for _, _, ref in items if ref is not None)
    assert refs == sorted((f"{topic}/{partition}", offset, index) for topic, partition, offset, index in out.event_sources)


OBJECTS = st.dictionaries(
    st.sampled_from(["msg", "service", "host", "tenant", "ts", "level", "a", "trace_id", "b.c", "name", "value",
                     "outcome", "user"]),
    st.one_of(st.text(max_size=20), st.integers(-(2**63), 2**64 - 1), st.none(), st.floats(allow_nan=False),
              st.dictionaries(st.text(max_size=3), st.text(max_size=20), max_size=2)),
    max_size=6).map(orjson.dumps)
RAW = st.one_of(
    st.binary(max_size=60),
    OBJECTS,
    # a JSON array record, its elements joined with or without blanks
    st.tuples(st.lists(OBJECTS, min_size=1, max_size=4), st.sampled_from([b",", b", ", b"\n,\t"])).map(
        lambda t: b"[" + t[1].join(t[0]) + b"]"),
    st.sampled_from([b'{"msg": "4111-1111-1111-1111"}', b'{"msg": "1767225583571386624"}',
                     b'{"timeUnixNano": "1767225583571386624", "body": "x"}', b'{"a": {"k 4111111111111111": "v"}}']))
RECORDS = st.lists(st.tuples(RAW, st.sampled_from([T.raw("logs"), T.raw("metrics"), T.raw("security"), "x"]),
                             st.integers(0, 3),
                             st.integers(0, 2**40)), max_size=12)


@needs_c
@PROPS
@given(RECORDS, st.booleans())
def test_generated_batches_give_the_same_output(records, enriched):
    both(records, IngestConfig(enrichment=TABLES) if enriched else None)


# -- deliver ---------------------------------------------------------------------------------------

EVENTS = st.fixed_dictionaries({
    "tenant": st.one_of(st.sampled_from(["default", "acme", "ünï"]), st.integers(0, 5), st.text(max_size=4)),
    "service": st.one_of(st.sampled_from(["payments-api", "ledger", "unknown", "café"]), st.text(max_size=4)),
    "host": st.sampled_from(["", "pay-01", "gw-03", "bastion-01", "nowhere"]),
    "env": st.sampled_from(["", "prod", "staging"]),
    "attributes": st.dictionaries(st.sampled_from(["team", "x", "tier"]), st.text(max_size=3), max_size=3),
    "message": st.text(max_size=10),
})
COORDS = st.tuples(st.sampled_from(["raw.logs", "ünï", "t"]), st.sampled_from([0, 1, 300, 2**40]),
                   st.sampled_from([0, 7, 2**48, 2**64 - 1, 2**64, -1]), st.sampled_from([0, 1, 2**32 - 1, 2**32]))


@needs_c
@PROPS
@given(st.lists(st.tuples(EVENTS, COORDS), max_size=6), st.booleans(), st.booleans())
def test_deliver_is_the_python_deliver(calls, enriched, keep):
    enrichers = [Enricher(**TABLES) if enriched else Enricher() for _ in range(2)]
    outs = [IngestOutput(), IngestOutput()]
    events = [[], []] if keep else [None, None]
    for ev, coords in calls:
        results = []
        for fn, enricher, out, kept in zip((hotloop.deliver, hotloop._hotloop.deliver), enrichers, outs, events,
                                           strict=True):
            e = copy.deepcopy(ev)
            results.append((outcome(fn, enricher, out, e, "p.logs", kept, coords), e))
        assert results[0] == results[1]
    assert output(outs[0]) == output(outs[1]) and events[0] == events[1]


@needs_c
def test_enrichment_fills_only_an_attributes_dict_nothing_else_holds():
    """In place when the event alone holds its attributes (the common case, no copy);
    a dict a decoder shares between events, or a caller keeps, is left as it was."""
    shared = {"x": "1", "team": "mine"}
    for deliver in (hotloop.deliver, hotloop._hotloop.deliver):
        out = IngestOutput()
        ev = {"tenant": "t", "service": "payments-api", "host": "pay-01", "env": "", "attributes": shared}
        deliver(Enricher(**TABLES), out, ev, "d", None, ("t", 0, 1, 0))
        assert shared == {"x": "1", "team": "mine"}
        assert ev["attributes"] is not shared and list(ev["attributes"])[:2] == ["x", "team"]
        assert ev["attributes"]["team"] == "mine" and len(ev["attributes"]) > 2
    own = {"tenant": "t", "service": "payments-api", "host": "pay-01", "env": "", "attributes": {"x": "1"}}
    hotloop._hotloop.deliver(Enricher(**TABLES), IngestOutput(), own, "d", None, ("t", 0, 1, 0))
    assert list(own["attributes"])[0] == "x" and len(own["attributes"]) > 1


@needs_c
def test_deliver_raises_what_python_raises():
    for ev in ({"service": "s"}, {"tenant": "t"}, {"tenant": "t", "service": "s", "host": "h", "x": {1}}):
        assert outcome(hotloop.deliver, Enricher(), IngestOutput(), dict(ev), "d", None, ("t", 0, 1, 0)) == \
            outcome(hotloop._hotloop.deliver, Enricher(), IngestOutput(), dict(ev), "d", None, ("t", 0, 1, 0))
    ev = {"tenant": "t", "service": "s"}
    with pytest.raises(struct.error):
        hotloop._hotloop.deliver(Enricher(), IngestOutput(), ev, "d", None, ("t", 0, -1, 0))


@needs_c
def test_source_references_survive_a_cleared_cache():
    out = IngestOutput()
    ev = {"tenant": "t", "service": "s"}
    for offset in range(3):
        source._HEADS.clear()
        hotloop._hotloop.deliver(Enricher(), out, dict(ev), "d", None, ("raw.logs", 2, offset, 1))
    assert [source.parse(ref) for _, _, ref in out.by_topic["d"]] == [("raw.logs/2", i, 1) for i in range(3)]


# -- the card scan -----------------------------------------------------------------------------

STRINGS = st.one_of(
    st.text(alphabet="0123456789 -a\n", max_size=40), st.text(max_size=20),
    st.sampled_from(["4111 1111 1111 1111", "4111-1111-1111-111", "1 2 3 4 5 6 7 8 9 0 1 2 3", "12  34567890123",
                     "4bf92f3577b34da6a3ce929d0e0e4736", "0000000000000000", "1234567890123", "١٢٣٤٥٦٧٨٩٠١٢٣٤"]))
# Canonical events start with their event id (the serialized test skips it by length).
CARD_EVENTS = st.dictionaries(
    st.sampled_from(["kind", "trace_id", "span_id", "message", "host", "attributes", "labels", "ts"]),
    st.one_of(STRINGS, st.floats(allow_nan=False), st.integers(-(2**63), 2**64 - 1),
              st.dictionaries(STRINGS, st.one_of(STRINGS, st.integers(0, 2**64 - 1)), max_size=3)),
    max_size=8).map(lambda d: {"event_id": "0191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6f70", **d})


@needs_c
@PROPS
@given(CARD_EVENTS)
def test_the_card_scan_changes_no_outcome(ev):
    r = redact.Redactor()
    results = []
    for test in (redact._serialized_run, redact._scanned_run):
        e = copy.deepcopy(ev)
        saved, redact._may_hold_card = redact._may_hold_card, test
        try:
            finding = r.cards(e)
        finally:
            redact._may_hold_card = saved
        results.append((e, finding.counts, finding.cards))
    assert results[0] == results[1]
    if redact._scanned_run(ev):  # it never asks for more than the serialized test does
        assert redact._serialized_run(ev)
    # and asked of the event as its keys and values, it answers the same
    assert redact._may_hold_card_fields(tuple(ev), tuple(ev.values())) == redact._scanned_run(ev)


@needs_c
def test_the_card_scan_skips_what_the_serialized_test_cannot():
    ev = {"event_id": "0191e2b4-5c8a-7d3e-9f1a-2b3c4d5e6f70", "ts": 1767225583.5, "trace_id": "4bf92f35771234567890123456e4736a",
          "attributes": {"a": "b"}}
    assert redact._serialized_run(ev) and not redact._scanned_run(ev)
    assert redact._scanned_run({"attributes": {"pan 4111 1111 1111 1111": "x"}})
    assert redact._scanned_run({"span_id": "4111111111111111"})  # only digits: not a W3C id


# -- the switch ------------------------------------------------------------------------------------


def test_sluice_pure_python_selects_the_python_forms():
    code = ("from streams.ingest.pipeline import Ingestor; from streams.ingest import hotloop, redact; "
            "from schemas.topics import Topics; i = Ingestor(Topics()); "
            "print(i._loop is None, i._deliver.__module__, redact._may_hold_card is redact._scanned_run, "
            "hotloop.serialize is hotloop._exact_dumps)")
    pure, default = switched(code)
    assert pure == ["True", "streams.ingest.hotloop", "False", "True"]
    if hotloop._hotloop is not None and redact._cardscan is not None and hotloop._eventjson is not None:
        assert default == ["False", "streams.ingest._hotloop", "True", "False"]
