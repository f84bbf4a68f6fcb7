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
