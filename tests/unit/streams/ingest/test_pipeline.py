from __future__ import annotations

import gc
from pathlib import Path

import orjson
import pytest

from schemas.errors import ConfigError
from schemas.events import DeadLetter, LogEvent, Signal
from schemas.ids import stable_event_id as dead_letter_id
from schemas.topics import Topics
from streams.ingest.pipeline import CARD_SIGNAL, IngestConfig, Ingestor, IngestOutput
from tests.unit.streams.ingest.corpus import OBSERVED

T = Topics("p")


def run(records, cfg=None, keep=True) -> IngestOutput:
    return Ingestor(T, cfg).process(records, OBSERVED, keep_events=keep)


def rec(value, stream="logs", offset=0, partition=0):
    return (value, T.raw(stream), partition, offset)


def test_output_shape_keys_and_order():
    out = run([rec(orjson.dumps({"msg": f"m{i}", "service": "s", "tenant": "t"}), offset=i) for i in range(3)])
    assert list(out.by_topic) == ["p.logs"]
    assert [k for k, _, _ in out.by_topic["p.logs"]] == [b"t|s"] * 3
    events = [orjson.loads(v) for _, v, _ in out.by_topic["p.logs"]]
    assert [e["message"] for e in events] == ["m0", "m1", "m2"]
    for e in events:
        LogEvent.model_validate(e)


def test_dead_letters_carry_reason_coordinates_and_redacted_payload():
    bad = b'{"msg": "card 4111 1111 1111 1111 password=hunter2", broken'
    out = run([rec(bad, offset=41, partition=3)])
    (key, value, _), = out.by_topic["p.dlq"]
    dl = DeadLetter.model_validate(orjson.loads(value))
    assert key == b"decode_error" and dl.reason == "decode_error"
    assert (dl.source_topic, dl.source_partition, dl.source_offset, dl.kind) == ("p.raw.logs", 3, 41, "logs")
    assert dl.event_id == dead_letter_id("p.raw.logs", 3, 41) and dl.ts == OBSERVED
    assert "4111 1111" not in dl.payload and "hunter2" not in dl.payload
    assert "411111******1111" in dl.payload and "[REDACTED:password]" in dl.payload
    assert out.dropped == {"decode_error": 1} and out.redacted == {"card_number": 1, "password": 1}
    assert CARD_SIGNAL not in value.decode()


@pytest.mark.parametrize(("value", "stream", "reason"), [
    (None, "logs", "decode_error"), (b"", "logs", "empty"), (b"  \n", "logs", "empty"),
    (b'{"a": "\xc3\x28"}', "logs", "invalid_utf8"), (b"caf\xe9 text", "logs", "invalid_utf8"),
    (b"x" * 2048, "metrics", "decode_error"), (b"[1, 2]", "logs", "schema_violation"),
    (b'{"name": "m"}', "metrics", "schema_violation"), (b"bin\x00ary", "logs", "decode_error"),
])
def test_reason_codes(value, stream, reason):
    out = run([rec(value, stream)])
    assert out.dropped == {reason: 1} and not out.events


def test_oversize_and_too_many_events():
    cfg = IngestConfig(max_record_bytes=1024, max_events_per_record=2)
    out = run([rec(b'{"msg": "' + b"x" * 2000 + b'"}'), rec(b"a 1\nb 2\nc 3\n", "metrics", 1)], cfg)
    assert out.dropped == {"oversize": 1, "too_many_events": 1}


def test_timestamps_reject_policy():
    cfg = IngestConfig(timestamps="reject")
    out = run([rec(b'{"ts": "2030-01-01T00:00:00Z", "msg": "x"}'), rec(b'{"ts": 5, "msg": "y"}', offset=1),
               rec(b"<13>Dec 31 23:59:59 h a: fine", offset=2)], cfg)
    assert out.dropped == {"timestamp_out_of_range": 2} and len(out.events) == 1


def test_card_number_signal():
    record = rec(orjson.dumps({"service": "checkout", "host": "h1", "tenant": "acme",
                               "msg": "paid with 5500-0000-0000-0004", "note": "again 4111111111111111"}), offset=7)
    out = run([record])
    (key, value, _), = out.by_topic["p.signals"]
    sig = orjson.loads(value)
    Signal.model_validate(sig)
    ev = out.events[0]
    assert key == b"acme|checkout"
    assert sig["kind"] == "signal" and sig["signal"] == CARD_SIGNAL and sig["event_id"] == ev["event_id"]
    assert (sig["tenant"], sig["service"], sig["host"], sig["ts"]) == ("acme", "checkout", "h1", OBSERVED)
    assert sig["attributes"] == {"field": "attributes.note", "masked": "411111******1111", "count": "2",
                                 "fields": "attributes.note,message", "network": "visa"}
    assert sig["signal_id"] == orjson.loads(run([record]).by_topic["p.signals"][0][1])["signal_id"]
    assert out.redacted == {"card_number": 2}
    for _, v, _ in out.by_topic["p.logs"] + out.by_topic["p.signals"]:
        assert b"5500000000000004" not in v.replace(b"-", b"") and b"4111111111111111" not in v


@pytest.mark.parametrize(("masked", "network"), [
    ("411111******1111", "visa"), ("550000******0004", "mastercard"), ("222100******0000", "mastercard"),
    ("340000*****0009", "amex"), ("601100******0004", "discover"), ("353011******0000", "jcb"),
    ("620000******0000", "unionpay"), ("176722*********0000", "unknown"),
])
def test_card_network_from_the_kept_digits(masked, network):
    from streams.ingest.redact import card_network
    assert card_network(masked) == network


def test_formats_per_topic_and_per_stream():
    cfg = IngestConfig(formats={"logs": "text", "p.raw.security": "cef"})
    out = run([rec(b"level=info msg=x"), rec(b"CEF:0|v|p|1|s|n|5|src=1.2.3.4", "security", 1),
               rec(b"level=info msg=y", "security", 2)], cfg)
    assert out.events[0]["message"] == "level=info msg=x"
    assert out.events[1]["source_ip"] == "1.2.3.4" and out.dropped == {"decode_error": 1}


def test_unknown_format_or_zone_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as exc:
        IngestConfig(formats={"sluice.raw.logs": "yaml"})
    assert exc.value.key == "ingest.formats.sluice.raw.logs" and "yaml" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        IngestConfig(timezone="Mars/Olympus")
    assert exc.value.key == "ingest.timezone"
    with pytest.raises(ConfigError) as exc:
        IngestConfig(redaction={"hash_fields": ["actor"]})
    assert exc.value.key == "ingest.redaction.hash_key"
    with pytest.raises(ConfigError) as exc:
        IngestConfig(redaction={"patterns": [{"kind": "x", "regex": "("}]})
    assert exc.value.key == "ingest.redaction.patterns[0].regex"


def test_configured_redaction_in_the_pipeline():
    cfg = IngestConfig(redaction={"patterns": [{"kind": "iban", "regex": r"\bDE\d{20}\b", "hint": "DE"}],
                                  "hash_fields": ["user.email"], "hash_key": "k"})
    out = run([rec(orjson.dumps({"msg": "refund to DE89370400440532013000", "user.email": "a@b.c"}))], cfg)
    ev = out.events[0]
    assert ev["message"] == "refund to [REDACTED:iban]" and ev["attributes"]["user.email"].startswith("hmac:")
    assert out.redacted == {"iban": 1}


def test_multi_event_records_land_partially_and_count_skips():
    out = run([rec(b"ok 1\nnan_metric NaN\n", "metrics")])
    assert len(out.events) == 1 and out.skipped == {"non_finite_value": 1} and not out.dropped
    out = run([rec(b"only NaN\n", "metrics")])
    assert out.dropped == {"schema_violation": 1}


def test_unknown_streams_are_read_as_logs():
    out = Ingestor(T).process([(b'{"msg": "x"}', "p.raw.audit", 0, 0)], OBSERVED, keep_events=True)
    assert list(out.by_topic) == ["p.logs"]


def test_merge_adds_outputs_and_counts():
    a = run([rec(b'{"msg": "a"}'), rec(b"{", offset=1)])
    b = run([rec(b'{"msg": "b"}', offset=2), rec(b"{", offset=3), rec(b"password=x", offset=4)])
    a.merge(b)
    assert [orjson.loads(v)["message"] for _, v, _ in a.by_topic["p.logs"]] == ["a", "b", ""]
    assert a.dropped == {"decode_error": 2} and a.redacted == {"password": 1} and len(a.events) == 3


def test_gc_state_is_restored():
    assert gc.isenabled()
    run([rec(b'{"msg": "x"}')])
    assert gc.isenabled()
    gc.disable()
    try:
        run([rec(b'{"msg": "x"}')])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_ids_are_stable_distinct_per_offset_and_index():
    records = [rec(b'[{"msg":"a"},{"msg":"b"}]', offset=5), rec(b'{"msg":"c"}', offset=6)]
    ids = [e["event_id"] for e in run(records).events]
    assert ids == [e["event_id"] for e in run(records).events] and len(set(ids)) == 3


def test_binary_that_is_not_utf8_is_invalid_utf8_first():
    assert run([rec(b"\xff\xfe\x00")]).dropped == {"invalid_utf8": 1}
    assert run([rec(b"ok\x00bin")]).dropped == {"decode_error": 1}


def test_a_failing_precheck_means_every_record_is_checked(caplog):
    ingestor = Ingestor(T)

    def broken(values):
        raise RuntimeError("arrow is gone")

    ingestor.precheck.flagged = broken
    out = ingestor.process([rec(b'{"msg": "pan 4111111111111111 password=x"}')], OBSERVED, keep_events=True)
    assert out.events[0]["message"] == "pan 411111******1111 password=[REDACTED:password]"
    assert "pre-check failed" in caplog.text


def test_a_bug_after_normalization_dead_letters_the_record():
    services = Path(__file__).resolve().parents[4] / "config/enrichment/services.yaml"
    ingestor = Ingestor(T, IngestConfig(enrichment={"services": services}))

    def broken(service, host):
        raise KeyError("boom")

    ingestor.enricher._resolve = broken  # what both the Python and the C enrichment call on a miss
    out = ingestor.process([rec(b'{"msg": "x"}'), rec(b"level=info msg=y", offset=1)], OBSERVED)
    assert out.dropped == {"internal_error": 2} and "p.logs" not in out.by_topic
