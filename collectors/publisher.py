"""Publishes records to the raw topics and keeps an exact account of what the broker
acknowledged (the ids feed the demo's `missing` check)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Producer

from schemas.ids import stable_event_id
from sinks.kafka import KafkaConfig


@dataclass
class PublishStats:
    produced: dict[str, int] = field(default_factory=lambda: {"logs": 0, "metrics": 0, "security": 0})
    acked: int = 0
    failed: int = 0
    poison: int = 0

    @property
    def total(self) -> int:
        return sum(self.produced.values())


class Publisher:
    """At-least-once, idempotent producer of raw records with per-record delivery accounting."""

    def __init__(self, kafka: KafkaConfig, track: str | None = "ids"):
        """track: "ids" records acknowledged event ids (the record key, or the id ingest
        derives for a keyless record); "coordinates" records topic/partition/offset;
        None records nothing."""
        self.topics = kafka.topics
        self.producer = Producer(kafka.producer_conf(**{"linger.ms": 20,
                                                        "on_delivery": self._delivered}))
        self.stats = PublishStats()
        self.track = track
        self.acked_ids: list[bytes] = []
        self.errors: list[str] = []

    def _delivered(self, err, msg) -> None:
        # Runs once per record (from poll), on the cores the demo shares: the common case first.
        if err is None:
            self.stats.acked += 1
            if self.track == "ids":
                # Keyless (malformed) records are identified the way ingest will: by coordinates.
                self.acked_ids.append(msg.key() or stable_event_id(msg.topic(), msg.partition(), msg.offset()).encode())
            elif self.track == "coordinates":
                self.acked_ids.append(f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode())
            return
        self.stats.failed += 1
        if len(self.errors) < 20:
            self.errors.append(str(err))

    def publish(self, by_stream: dict[str, list[tuple[bytes, bytes]]]) -> None:
        produce = self.producer.produce
        poll = self.producer.poll
        for stream, items in by_stream.items():
            topic = self.topics.entry(stream)
            for key, value in items:
                while True:
                    try:
                        produce(topic, value, key or None)
                        break
                    except BufferError:
                        poll(0.05)
                if not key:
                    self.stats.poison += 1
            self.stats.produced[stream] = self.stats.produced.get(stream, 0) + len(items)
        poll(0)

    def flush(self, timeout: float = 60.0) -> int:
        return self.producer.flush(timeout)

    def close(self) -> None:
        """Flush and release the producer (before the broker goes away, so it logs no reconnects)."""
        if self.producer is not None:
            self.producer.flush(10)
            self.producer = None


def run_at_rate(make_batch: Callable[[int], dict], publisher: Publisher, rate: float, seconds: float,
                stop: threading.Event | None = None, on_tick: Callable[[float], None] | None = None,
                tick_s: float = 0.02) -> float:
    """Publish `rate` records/s for `seconds` (rate <= 0: as fast as possible). Returns elapsed s."""
    start = time.monotonic()
    sent = 0
    last_report = start
    while True:
        now = time.monotonic()
        elapsed = now - start
        if elapsed >= seconds or (stop is not None and stop.is_set()):
            break
        due = int(rate * elapsed) - sent if rate > 0 else 5000
        if due <= 0:
            time.sleep(tick_s)
            continue
        due = min(due, 20000)
        batch = make_batch(due)
        publisher.publish(batch)
        sent += due
        if on_tick is not None and now - last_report >= 1.0:
            last_report = now
            on_tick(elapsed)
    return time.monotonic() - start
