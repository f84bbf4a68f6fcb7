"""Reading topics outside any consumer group: from the beginning (or the last N
records) to the end they had when reading started. For CLIs and start-up loads."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_END, Consumer, Message, TopicPartition

from sinks.kafka import KafkaConfig


def reader(kafka: KafkaConfig, **extra) -> Consumer:
    """A consumer outside any group's commits (assign(), never subscribe())."""
    return Consumer({**kafka.common(), "group.id": f"sluice-cli-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "session.timeout.ms": kafka.session_timeout_ms, **extra})


def assign_tail(consumer: Consumer, topics: list[str], last: int | None, timeout: float = 10.0) -> dict:
    """Assign every partition of `topics` at `last` records before its end (None: the
    beginning); returns {(topic, partition): end offset at assignment}. Missing topics are skipped."""
    known = consumer.list_topics(timeout=timeout).topics
    parts, ends = [], {}
    for topic in topics:
        meta = known.get(topic)
        if meta is None or meta.error is not None:
            continue
        for partition in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            start = low if last is None else max(low, high - last)
            parts.append(TopicPartition(topic, partition, start if high > low else OFFSET_END))
            ends[(topic, partition)] = high if high > start else None
    consumer.assign(parts)
    return {k: v for k, v in ends.items() if v is not None}


def read_until_end(consumer: Consumer, ends: dict, timeout: float = 30.0) -> Iterator[Message]:
    """The records up to the end offsets `assign_tail` saw, then stop."""
    remaining = dict(ends)
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            if msg.error() is None:
                yield msg
        # Positions, not message offsets: the last offset may be a transaction marker
        # (faust exactly_once), which a consumer never receives but does move past.
        positions = consumer.position([TopicPartition(t, p) for t, p in remaining])
        for tp in positions:
            if tp.offset >= remaining[(tp.topic, tp.partition)]:
                del remaining[(tp.topic, tp.partition)]

