"""The alert message schema, deterministic ids, and the audit rows in real ClickHouse."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from schemas.alerts import ALERT_SCHEMA_PATH, AlertMessage, alert_id, evidence_sql, render_alert_schema
from schemas.tables import TABLES
from sinks.clickhouse import ClickHouseConfig, ClickHouseSink
from streams.alerting import encode_history, new_silence, silence_history_row
from streams.alerting.silences import encode_silence
from tests.unit.streams.alerting.conftest import T0, Harness, candidate, simple_config

EVENT_ID = "0190c4c2-1111-7000-8000-000000000001"


def test_committed_json_schema_is_up_to_date():
    assert ALERT_SCHEMA_PATH.read_text() == render_alert_schema(), \
        "run `python -m schemas.alerts` to regenerate schemas/jsonschema/alert.v1.json"


def test_alert_id_is_deterministic_and_survives_json():
    starts = T0 + 0.123456
    same = alert_id("abcd", orjson.loads(orjson.dumps(starts)), "firing")
    assert same == alert_id("abcd", starts, "firing") == str(uuid.UUID(same))
    assert len({alert_id("abcd", starts, "firing"), alert_id("abcd", starts, "resolved"),
                alert_id("abce", starts, "firing"), alert_id("abcd", starts + 1, "firing")}) == 4


def test_messages_validate_against_the_model():
    h = Harness(simple_config(route={"group_wait": "0s"}))
    [note] = h.send(candidate())
    assert AlertMessage.model_validate_json(note.value) == note.message


def test_evidence_sql_keeps_only_uuid_ids_and_falls_back_to_a_time_range():
    by_id = evidence_sql("db", [EVENT_ID, "x'); DROP TABLE logs; --"])
    assert by_id.count("event_id IN ('" + EVENT_ID + "')") == 3 and "DROP" not in by_id
    by_time = evidence_sql("db", ["not-a-uuid"], {"service": "check'out"}, starts_at=T0, ends_at=None)
    assert "service = 'check\\'out'" in by_time and "now64(6)" in by_time and "LIMIT 200" in by_time


def history_rows() -> list[dict]:
    h = Harness(simple_config(route={"group_wait": "0s", "group_interval": "0s"}))
    h.send(candidate(event_ids=[EVENT_ID], labels={"tenant": "acme"}))
    h.send(candidate(status="resolved", at=T0 + 30, starts_at=T0, labels={"tenant": "acme"}))
    return h.manager.drain_history()


def test_history_rows_have_exactly_the_table_fields():
    fields = [name for name, _ in TABLES["alert_history"].fields]
    rows = history_rows() + [silence_history_row(new_silence(["team=sre"], 60, "alice", "why", T0), "silence_added",
                                                 T0)]
    for row in rows:
        assert list(row) == fields
        assert isinstance(row["ts"], float) and isinstance(row["starts_at"], float)
    assert [r["change"] for r in rows] == ["firing", "notified", "resolved", "notified", "silence_added"]


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    pytest.importorskip("chdb")
    sink = ClickHouseSink(ClickHouseConfig(data_dir=tmp_path_factory.mktemp("chdb"), database="al")).start()
    yield sink
    sink.close()


def _batch(values: list[bytes], topic: str) -> dict:
    return {"raw": [v.decode() for v in values], "_cluster": ["c"] * len(values), "_topic": [topic] * len(values),
            "_partition": [0] * len(values), "_offset": list(range(len(values)))}


def test_history_and_silences_land_in_their_tables(clickhouse):
    rows = history_rows()
    clickhouse.write("alert_history", _batch([encode_history(r)[1] for r in rows], "h"), "tok-h")
    silence = new_silence(["team=sre", 'host=~"db-.*"'], 3600, "alice", "disk swap", T0)
    clickhouse.write("silences", _batch([encode_silence(silence)[1]], "s"), "tok-s")
    got = clickhouse.query_rows("SELECT change, status, tenant, labels['provider'] AS provider, event_ids, "
                                "toUnixTimestamp64Micro(starts_at) AS s, ends_at IS NULL AS open "
                                "FROM al.alerts ORDER BY _offset")
    assert [(r["change"], r["status"], r["open"]) for r in got] == [
        ("firing", "firing", 1), ("notified", "firing", 1), ("resolved", "resolved", 0), ("notified", "resolved", 0)]
    assert got[0]["tenant"] == "acme" and got[0]["provider"] == "adyen" and got[0]["event_ids"] == [EVENT_ID]
    assert int(got[0]["s"]) == int(T0 * 1_000_000)
    [stored] = clickhouse.query_rows("SELECT id, matchers, created_by FROM al.silences")
    assert stored == {"id": silence.id, "matchers": silence.matchers, "created_by": "alice"}


def test_evidence_sql_runs_and_finds_the_events(clickhouse):
    # observed_ts now: retention counts from it, and a 2024 one would be expired on arrival.
    clickhouse.query(f"INSERT INTO al.logs (event_id, ts, observed_ts, tenant, service, severity_text, message) "
                     f"VALUES ('{EVENT_ID}', {T0}, {time.time()}, 'acme', 'checkout', 'INFO', 'card declined')", "CSV")
    rows = clickhouse.query_rows(evidence_sql("al", [EVENT_ID]))
    assert [(r["source"], r["event_id"], r["detail"]) for r in rows] == [("logs", EVENT_ID, "INFO card declined")]
    ranged = clickhouse.query_rows(evidence_sql("al", [], {"service": "checkout"}, starts_at=T0 + 60, ends_at=T0 + 90))
    assert [r["event_id"] for r in ranged] == [EVENT_ID]
