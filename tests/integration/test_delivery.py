"""Delivery contract on real Kafka-protocol brokers and real ClickHouse engines:
exactly once in ClickHouse, no duplicates after a sink dies between insert and commit,
bad records in dead_letters with their reason and source offset."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Producer

from tests.integration.harness import Pipeline, log_event, produce, values

pytestmark = pytest.mark.integration


class Crash(Exception):
    """Stands for the process dying: nothing after the insert runs."""


def step_until_crash(worker, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    with pytest.raises(Crash):
        while True:
            assert time.monotonic() < deadline, "the store consumed nothing to insert"
            worker.step()


@pytest.fixture
def pipeline(stack):
    p = Pipeline(stack)
    yield p
    p.close()


def test_events_land_exactly_once(pipeline, stack):
    events = [log_event(i) for i in range(1500)]
    produce(stack, "logs", values(events))
    pipeline.pump_ingest(1500)
    pipeline.pump_store("logs", 1500)
    rows = pipeline.rows(f"SELECT count() AS n, uniqExact(event_id) AS u, "
                         f"groupArray(toString(event_id)) AS ids FROM {pipeline.db}.logs")[0]
    assert rows["n"] == 1500 and rows["u"] == 1500
    assert set(rows["ids"]) == {e["event_id"] for e in events}
    first = pipeline.rows(f"SELECT service, message, severity_text FROM {pipeline.db}.logs "
                          f"WHERE event_id = '{events[7]['event_id']}'")
    assert first == [{"service": "payments", "message": "payment 7 authorized", "severity_text": "INFO"}]


def test_json_array_records_land_exactly_once_with_each_events_place(pipeline, stack):
    """How the demo collector ships: up to 100 events per raw record, a JSON array."""
    events = [log_event(i) for i in range(1000)]
    arrays = [b"[" + b",".join(values(events[k:k + 100])) + b"]" for k in range(0, 1000, 100)]
    offsets = produce(stack, "logs", arrays)
    pipeline.pump_ingest(len(arrays))
    pipeline.pump_store("logs", 1000)
    rows = pipeline.rows(f"SELECT count() AS n, uniqExact(event_id) AS u, groupUniqArray(_source_offset) AS o, "
                         f"min(_source_index) AS lo, max(_source_index) AS hi FROM {pipeline.db}.logs")[0]
    assert (rows["n"], rows["u"], sorted(rows["o"]), rows["lo"], rows["hi"]) == (1000, 1000, sorted(offsets), 0, 99)
    placed = pipeline.rows(f"SELECT _source_offset AS o, _source_index AS i, message FROM {pipeline.db}.logs "
                           f"WHERE event_id = '{events[257]['event_id']}'")
    assert placed == [{"o": offsets[2], "i": 57, "message": "payment 257 authorized"}]


@pytest.mark.parametrize("replay_batch", [700, 1000])
def test_sink_killed_after_insert_before_commit_makes_no_duplicates(pipeline, stack, replay_batch):
    produce(stack, "logs", values([log_event(i) for i in range(3000)]))
    pipeline.pump_ingest(3000)
    victim = pipeline.new_store(batch_size=700)

    def die(_offsets):
        raise Crash()

    victim.consumer.commit = die
    step_until_crash(victim)
    inserted_before_crash = victim.sink.query_rows(f"SELECT count() AS n FROM {pipeline.db}.logs")[0]["n"]
    assert inserted_before_crash > 0
    victim.consumer.close()  # no commit happened: the replacement starts from the old offsets
    victim.sink.close()
    # Same cut (700): the dedup token drops the replayed insert. Another cut (1000):
    # the stored high-water mark skips what landed.
    pipeline.store = pipeline.new_store(batch_size=replay_batch)
    pipeline.pump_store("logs", 3000)
    for _ in range(3):
        pipeline.store.step()
    r = pipeline.rows(f"SELECT count() AS n, uniqExact(event_id) AS u FROM {pipeline.db}.logs")[0]
    assert (r["n"], r["u"]) == (3000, 3000)


def test_dedup_token_drops_a_replayed_batch_even_without_offset_marks(pipeline, stack):
    produce(stack, "logs", values([log_event(i) for i in range(500)]))
    pipeline.pump_ingest(500)
    victim = pipeline.new_store(batch_size=500)
    victim.consumer.commit = lambda _o: (_ for _ in ()).throw(Crash())
    step_until_crash(victim)
    victim.consumer.close()
    victim.sink.close()
    pipeline.store = pipeline.new_store(batch_size=500)
    pipeline.store.stored.clear()  # forget the marks: only the token can stop the duplicate
    pipeline.store._assigned = lambda parts: None
    for _ in range(5):
        pipeline.store.step()
    r = pipeline.rows(f"SELECT count() AS n, uniqExact(event_id) AS u FROM {pipeline.db}.logs")[0]
    assert (r["n"], r["u"]) == (500, 500)


def test_undecodable_record_lands_in_dead_letters_with_reason_and_offset(pipeline, stack):
    good = values([log_event(i) for i in range(3)])
    offsets = produce(stack, "logs", [good[0], b"{not json", good[1], b"\xff\xfe\x00", good[2]])
    pipeline.pump_ingest(5)
    pipeline.pump_store("dead_letters", 2)
    pipeline.pump_store("logs", 3)
    dl = pipeline.rows(f"SELECT reason, source_topic, source_partition, source_offset, payload "
                       f"FROM {pipeline.db}.dead_letters ORDER BY source_offset")
    raw_logs = stack.kafka.topics.raw("logs")
    assert [(d["reason"], d["source_topic"], d["source_partition"], d["source_offset"]) for d in dl] == [
        ("decode_error", raw_logs, 0, offsets[1]), ("invalid_utf8", raw_logs, 0, offsets[3])]
    assert dl[0]["payload"] == "{not json"
    assert pipeline.count("logs") == 3


def test_announced_deployments_land_and_an_invalid_one_is_dead_lettered(pipeline, stack):
    from collectors.deployments import announce, new_deployment

    good = new_deployment("payments", "2.14.0", actor="ci/release", description="PAY-812")
    announce(stack.kafka, good)
    p = Producer(stack.kafka.producer_conf())
    p.produce(stack.kafka.topics.deployments, b'{"kind": "deployment", "service": "ledger"}', b"ledger")
    assert p.flush(30) == 0
    pipeline.pump_store("deployments", 1)
    pipeline.pump_store("dead_letters", 1)
    rows = pipeline.rows(f"SELECT toString(event_id) AS id, service, version, actor, canary_group "
                         f"FROM {pipeline.db}.deployments")
    assert rows == [{"id": good.event_id, "service": "payments", "version": "2.14.0", "actor": "ci/release",
                     "canary_group": "canary"}]
    dead = pipeline.rows(f"SELECT reason, detail, kind, source_topic FROM {pipeline.db}.dead_letters")
    assert len(dead) == 1 and dead[0]["reason"] == "schema_violation" and dead[0]["kind"] == "deployments"
    assert "event_id" in dead[0]["detail"] and "version" in dead[0]["detail"]
    assert dead[0]["source_topic"] == stack.kafka.topics.deployments
