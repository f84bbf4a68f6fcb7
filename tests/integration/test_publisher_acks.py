"""The publisher's accounting against a real broker: keyed records report only their
failures, keyless ones every delivery, and after flush() the counts and ids are exact."""

from __future__ import annotations

from collectors.publisher import Publisher
from schemas.ids import stable_event_id
from sinks.kafka import KafkaConfig, ensure_sluice_topics
from sinks.kafka_tail import assign_tail, read_until_end, reader


def test_acked_counts_and_ids_are_exact_after_flush(embedded_broker, topic_prefix):
    kafka = KafkaConfig(bootstrap_servers=embedded_broker.bootstrap_servers, topic_prefix=topic_prefix, partitions=2)
    ensure_sluice_topics(kafka)
    pub = Publisher(kafka)
    keyed = [(f"id-{i:05d}".encode(), b'{"message": "x"}') for i in range(3000)]
    try:
        pub.publish({"logs": keyed[:1500] + [(b"", b"\xff not json")], "metrics": keyed[1500:]})
        assert pub.flush(30) == 0
        assert (pub.stats.total, pub.stats.acked, pub.stats.failed, pub.stats.poison) == (3001, 3001, 0, 1)
        consumer = reader(kafka)
        try:
            topic = kafka.topics.entry("logs")
            ends = assign_tail(consumer, [topic], None)
            poison = [m for m in read_until_end(consumer, ends) if m.key() is None]
        finally:
            consumer.close()
        assert len(poison) == 1
        expected = {k for k, _ in keyed} | {stable_event_id(topic, poison[0].partition(), poison[0].offset()).encode()}
        assert len(pub.acked_ids) == 3001 and set(pub.acked_ids) == expected
    finally:
        pub.close()


def test_events_travel_as_json_arrays_and_are_counted_per_event(embedded_broker, topic_prefix):
    import orjson

    kafka = KafkaConfig(bootstrap_servers=embedded_broker.bootstrap_servers, topic_prefix=topic_prefix, partitions=2)
    ensure_sluice_topics(kafka)
    pub = Publisher(kafka, events_per_record=7)
    keyed = [(f"id-{i:05d}".encode(), orjson.dumps({"message": f"m{i}"})) for i in range(50)]
    deployment = (b"dep-1", b'{"kind": "deployment", "service": "payments"}')
    try:
        ready = ([b"id-r0", b"id-r1"], b'[{"message": "r0"}, {"message": "r1"}]')  # as a batching source makes it
        pub.publish({"logs": keyed[:20] + [(b"", b"\xff not json"), ready] + keyed[20:], "deployments": [deployment]})
        assert pub.flush(30) == 0
        assert (pub.stats.total, pub.stats.acked, pub.stats.failed, pub.stats.poison) == (54, 54, 0, 1)
        assert pub.stats.produced["logs"] == 53  # events, the poison among them
        consumer = reader(kafka)
        try:
            topics = [kafka.topics.entry("logs"), kafka.topics.entry("deployments")]
            msgs = list(read_until_end(consumer, assign_tail(consumer, topics, None)))
        finally:
            consumer.close()
        logs = [m for m in msgs if m.topic() == topics[0] and m.key() is not None]
        assert sorted(len(orjson.loads(m.value())) for m in logs) == [1, 2, 7, 7, 7, 7, 7, 7, 7]
        # each array is keyed by its first event, and holds its events in their order
        arrays = {m.key(): [e["message"] for e in orjson.loads(m.value())] for m in logs}
        assert arrays[b"id-00000"] == [f"m{i}" for i in range(7)]
        assert sorted(sum(arrays.values(), [])) == sorted([f"m{i}" for i in range(50)] + ["r0", "r1"])
        # other topics take one object per record
        assert [m.value() for m in msgs if m.topic() == topics[1]] == [deployment[1]]
        poison = [m for m in msgs if m.topic() == topics[0] and m.key() is None]
        expected = {k for k, _ in keyed} | {b"id-r0", b"id-r1", b"dep-1", stable_event_id(topics[0], poison[0].partition(),
                                                                      poison[0].offset()).encode()}
        assert len(pub.acked_ids) == 54 and set(pub.acked_ids) == expected
    finally:
        pub.close()
