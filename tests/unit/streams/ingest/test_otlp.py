from __future__ import annotations

import orjson
import pytest

from schemas.errors import DecodeError
from streams.ingest.decoders import otlp
from tests.unit.streams.ingest.conftest import check_corpus


def test_corpus():
    check_corpus("otlp")


@pytest.mark.parametrize(("value", "expected"), [
    ({"stringValue": "s"}, "s"), ({"intValue": "42"}, 42), ({"intValue": 7}, 7), ({"doubleValue": 0.5}, 0.5),
    ({"boolValue": True}, True), ({"arrayValue": {"values": [{"intValue": "1"}]}}, [1]),
    ({"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}, {"k": "v"}), ({}, None),
])
def test_any_value(value, expected):
    assert otlp.any_value(value) == expected


def test_event_ids_are_distinct_and_stable(ingest):
    from tests.unit.streams.ingest.corpus import CORPUS
    raw = (CORPUS / "otlp/metrics.metrics.json").read_bytes()
    first = [e["event_id"] for e in ingest(raw, stream="metrics", offset=9).events]
    again = [e["event_id"] for e in ingest(raw, stream="metrics", offset=9).events]
    assert first == again and len(set(first)) == len(first) == 16


def test_otlp_logs_on_the_logs_topic_and_metrics_on_the_metrics_topic(ingest):
    logs = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}]}]}]})
    out = ingest(logs)
    assert list(out.by_topic) == ["sluice.logs"] and out.events[0]["message"] == "x"
    metrics = orjson.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "g", "gauge": {"dataPoints": [{"asDouble": 1.0}]}}]}]}]})
    assert list(ingest(metrics).by_topic) == ["sluice.metrics"]


def test_malformed_batches(ctx):
    with pytest.raises(DecodeError) as e:
        otlp.decode(b'{"resourceLogs": [{"scopeLogs": [{"logRecords": ["not an object"]}]}]}', ctx)
    assert e.value.reason == "schema_violation"
    with pytest.raises(DecodeError):
        otlp.decode(b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "sum": '
                    b'{"dataPoints": [{"asInt": "nope"}]}}]}]}]}', ctx)
