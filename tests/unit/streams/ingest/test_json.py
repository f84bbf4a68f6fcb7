from __future__ import annotations

import orjson
import pytest

from schemas.errors import DecodeError
from schemas.events import LogEvent, MetricSample, SecurityEvent
from streams.ingest.decoders import jsonlog, sniff
from streams.ingest.normalize import Normalizer, flatten, severity
from tests.unit.streams.ingest.conftest import check_corpus
from tests.unit.streams.ingest.corpus import OBSERVED

MODELS = {"log": LogEvent, "metric": MetricSample, "security": SecurityEvent}


def test_corpus():
    check_corpus("json")


def test_corpus_events_validate_against_the_schema_models():
    from tests.unit.streams.ingest import corpus
    for path in corpus.samples("json"):
        for result in corpus.run(path):
            for ev in result.get("events", []):
                MODELS[ev["kind"]].model_validate({**ev, "observed_ts": OBSERVED})


@pytest.mark.parametrize("key", ["ts", "timestamp", "@timestamp", "time", "timeUnixNano", "eventTime", "date"])
def test_time_aliases(ingest, key):
    ev = ingest(orjson.dumps({key: "2025-12-31T23:59:58.250Z", "msg": "x"})).events[0]
    assert ev["ts"] == 1767225598.25


@pytest.mark.parametrize(("value", "expected"), [
    (1767225598, 1767225598.0), (1767225598123, 1767225598.123), (1767225598123456, 1767225598.123456),
    (1767225598123456789, 1767225598.1234567), ("1767225598", 1767225598.0),
    ("2025-12-31T23:59:58+00:00", 1767225598.0), ("2025-12-31T23:59:58.5-01:30", 1767230998.5),
    ("2025-12-31 23:59:58", 1767225598.0), ("2025-12-31T23:59:58.123456789Z", 1767225598.123456789),
])
def test_timestamps_in_every_form(ingest, value, expected):
    ev = ingest(orjson.dumps({"ts": value, "msg": "x"})).events[0]
    assert ev["ts"] == pytest.approx(expected, abs=1e-6)
    assert "sluice.ts_flag" not in ev["attributes"]


@pytest.mark.parametrize(("value", "flag"), [("2030-01-01T00:00:00Z", "future"), (12, "out_of_range"),
                                             ("1999-12-31T23:59:59Z", "out_of_range"), ("soon", "unparsable")])
def test_absurd_times_are_flagged_not_shifted(ingest, value, flag):
    ev = ingest(orjson.dumps({"ts": value, "msg": "x"})).events[0]
    assert ev["ts"] == OBSERVED
    assert ev["attributes"]["sluice.ts_flag"] == flag
    assert ev["attributes"]["sluice.original_ts"] == str(value)


@pytest.mark.parametrize(("level", "number", "text"), [
    ("info", 9, "INFO"), ("WARNING", 13, "WARN"), ("Err", 17, "ERROR"), ("crit", 21, "FATAL"), ("emerg", 23, "FATAL"),
    (30, 9, "INFO"), (50, 17, "ERROR"), (18, 18, "ERROR"), ("verbose", 3, "TRACE"), ("weird", 0, "WEIRD"), (None, 9, "INFO"),
])
def test_severity_maps_to_opentelemetry(level, number, text):
    assert severity(level) == (number, text)


def test_each_alias_family(ingest):
    record = {"@timestamp": "2025-12-31T23:59:58Z", "log.level": "error", "service.name": "ledger",
              "host.name": "ledger-1", "traceId": "AB" * 16, "spanId": "cd" * 8, "message": "m",
              "tenant_id": "acme", "deployment.environment": "prod", "user.id": 7}
    ev = ingest(orjson.dumps(record)).events[0]
    assert (ev["service"], ev["host"], ev["tenant"], ev["env"]) == ("ledger", "ledger-1", "acme", "prod")
    assert (ev["trace_id"], ev["span_id"], ev["severity_text"]) == ("ab" * 16, "cd" * 8, "ERROR")
    assert ev["attributes"] == {"user.id": "7"}


def test_the_better_alias_wins_and_the_other_is_kept(ingest):
    ev = ingest(orjson.dumps({"msg": "short", "message": "the message", "service": "a", "app": "b"})).events[0]
    assert ev["message"] == "the message" and ev["service"] == "a"
    assert ev["attributes"] == {"msg": "short", "app": "b"}


def test_fast_path_and_generic_normalizer_agree():
    records = [
        {"ts": "2025-12-31T23:59:58.123Z", "level": "warn", "service": "s", "msg": "m", "n": 1, "f": 0.5,
         "b": True, "z": None, "l": [1, "a"], "kind": "x"},
        {"time": 1767225598123, "lvl": "debug", "app": {"name": "n"}, "attributes": {"k": "v"}, "event_id": "bad"},
        {"message": 5, "service": 7, "host": None, "tenant": "", "trace_id": "1234567890123456789"},
    ]
    from schemas.topics import Topics
    from streams.ingest.pipeline import Ingestor
    topics = Topics()
    for i, rec in enumerate(records):
        raw = orjson.dumps(rec)
        fast = Ingestor(topics).process([(raw, topics.raw("logs"), 2, i)], OBSERVED, keep_events=True).events[0]
        slow = Normalizer().log(orjson.loads(raw), OBSERVED, (topics.raw("logs"), 2, i, 0))
        assert fast == slow


def test_flatten_keeps_otel_attributes_unprefixed_and_empty_objects():
    assert flatten({"a": {"b": {"c": 1}}, "attributes": {"x.y": 2, "n": {"m": 3}}, "e": {}}) == {
        "a.b.c": 1, "x.y": 2, "n.m": 3, "e": {}}


def test_nested_values_become_text():
    ev = Normalizer().log({"msg": "m", "list": [{"a": 1}], "empty": {}}, OBSERVED, ("t", 0, 0, 0))
    assert ev["attributes"] == {"list": '[{"a":1}]', "empty": "{}"}


def test_decoder_errors_have_reasons(ctx):
    with pytest.raises(DecodeError) as e:
        jsonlog.decode(b'{"a": ', ctx)
    assert e.value.reason == "decode_error"
    with pytest.raises(DecodeError) as e:
        jsonlog.decode(b'{"a": "\xff"}', ctx)
    assert e.value.reason == "invalid_utf8"
    with pytest.raises(DecodeError) as e:
        jsonlog.decode(b'"just a string"', ctx)
    assert e.value.reason == "schema_violation"


def test_arrays_of_objects_are_batches(ctx):
    assert [d.fields for d in jsonlog.decode(b'[{"a":1},{"b":2}]', ctx)] == [{"a": 1}, {"b": 2}]
    assert sniff(b"[INFO] started", "logs").__module__.endswith("text")
    assert sniff(b'[{"a":1}]', "logs") is jsonlog.decode


def test_invalid_utf8_json_is_dead_lettered_with_reason(ingest):
    out = ingest(b'{"msg": "caf\xe9"}')
    assert out.dropped == {"invalid_utf8": 1} and not out.events


@pytest.mark.parametrize("index", [0, 3])
def test_fast_path_agrees_for_decoder_records_with_attributes(index):
    from streams.ingest.jsonfast import JsonLogs
    from streams.ingest.timeparse import TimeParser
    records = [({"ts": 1767225598.5, "level": "err", "host": "h", "service": "sshd", "message": "m", "pid": 4},
                {"sluice.format": "rfc3164", "process.pid": "4"}),
               ({"message": "x", "event_id": 12, "ts": "not a time"}, {"a": "b"}),
               ({"ts": "2025-12-31T23:59:58.000Z", "msg": "y", "event_id": "0191E2B4-5C8A-7D3E-9F1A-2B3C4D5E6F70"}, None)]
    for fields, attrs in records:
        fast = JsonLogs(TimeParser()).event(dict(fields), OBSERVED, "t", 1, 9, False,
                                            dict(attrs) if attrs else None, index)
        slow = Normalizer().log(dict(fields), OBSERVED, ("t", 1, 9, index), dict(attrs) if attrs else None)
        assert fast == slow


@pytest.mark.parametrize(("level", "text"), [({}, "{}"), ([], "UNSPECIFIED"), (["warn", "x"], "WARN,X")])
def test_a_level_that_is_a_list_or_an_object_is_read_as_text_not_a_crash(ingest, level, text):
    out = ingest(orjson.dumps({"msg": "m", "level": level}))
    assert not out.dropped
    assert (out.events[0]["severity_number"], out.events[0]["severity_text"]) == (0, text)
    assert severity(level) == (0, text)
