"""Publishes records to the raw topics and keeps an exact account of what the broker
acknowledged (the ids feed the demo's `missing` check).

With `events_per_record` > 1 the events of a stream travel as JSON arrays of up to that
many objects per record, the way an OpenTelemetry Collector or Fluent Bit ships a
batch: per event, the producer's call, the broker's record and the consumer's message
are shared. Ingest reads an array as one event per object (streams/ingest/decoders).
A source may hand over arrays it made itself, as (ids, array) items: the synthetic one
joins each from its templates' pieces, with no bytes object per event. Counts (`stats`)
are in events either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter

from confluent_kafka import Producer

from schemas.ids import stable_event_id
from schemas.topics import STREAMS
from sinks.kafka import KafkaConfig

# Events per raw record the synthetic collector ships by default (`sluice demo`, `sluice
# collect`): a batch, as agents send one. One producer call, broker record and consumed
# message per 100 events: against Tansu on its own, producing cost 4.1 against 1.0 µs an
# event and consuming 3.0 against 0.65 µs.
EVENTS_PER_RECORD = 100
# How often the synthetic collector flushes what fell due. The embedded broker spends
# ~0.65 ms of CPU per produce request whatever it holds (measured with 100-byte and 8 KB
# records alike), so a flush is priced by its requests: publishing 60,000 events/s alone,
# 0.1 s against 0.02 s cut the broker from 0.167 to 0.097 cores and the collector from
# 0.207 to 0.150. An event waits at most 0.1 s for its flush, then the producer's linger.
FLUSH_INTERVAL_S = 0.1
# Events per batch at most, however far behind the source fell: bounds its memory.
MAX_BATCH = 20_000


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
    """At-least-once, idempotent producer of raw records with per-event delivery accounting."""

    def __init__(self, kafka: KafkaConfig, track: str | None = "ids", events_per_record: int = 1):
        """track: "ids" records acknowledged event ids (the record key, or the id ingest
        derives for a keyless record); "coordinates" records topic/partition/offset;
        None records nothing. events_per_record: keyed events of the raw telemetry
        streams are grouped into JSON arrays of up to this many (keyless records, the
        poison, always go alone; other topics, such as deployments, take one per record)."""
        if events_per_record < 1:
            raise ValueError(f"events_per_record must be at least 1, not {events_per_record}")
        if events_per_record > 1 and track == "coordinates":
            raise ValueError("coordinates name one event per record: track='coordinates' needs events_per_record=1")
        self.events_per_record = events_per_record
        self.topics = kafka.topics
        conf = kafka.producer_conf(**{"linger.ms": 20, "on_delivery": self._delivered})
        # A delivery report per record, served by poll() on the cores the demo shares,
        # took a fifth of the publisher's CPU. Only coordinates need each record's report;
        # otherwise a keyed record reports only its failure, and a keyless one (ingest names
        # it by its coordinates) goes through a second producer that reports every record.
        self.quiet = track != "coordinates"
        self.producer = Producer({**conf, "delivery.report.only.error": True} if self.quiet else conf)
        self.reported = Producer(conf) if self.quiet else self.producer
        self.stats = PublishStats()
        self.track = track
        # "ids": the keys of keyed records as they are produced (acknowledged once flush()
        # returns, but for those in failed_ids) and the ids of acknowledged keyless ones
        self.acked_ids: list[bytes] = []
        self.failed_ids: set[bytes] = set()
        self.errors: list[str] = []
        self._quiet_sent = 0
        self._quiet_failed = 0
        self._reported_acked = 0

    def _delivered(self, err, msg) -> None:
        if err is None:
            self._reported_acked += 1
            self.stats.acked += 1
            if self.track == "ids":
                # Keyless (malformed) records are identified the way ingest will: by coordinates.
                self.acked_ids.append(msg.key() or stable_event_id(msg.topic(), msg.partition(), msg.offset()).encode())
            elif self.track == "coordinates":
                self.acked_ids.append(f"{msg.topic()}/{msg.partition()}/{msg.offset()}".encode())
            return
        self.stats.failed += 1
        key = msg.key()
        if self.quiet and key:
            self._quiet_failed += 1
            self.failed_ids.add(key)
        self._keep_error(err)

    def _delivered_array(self, ids: list[bytes], err, msg) -> None:
        """The delivery report of a record holding the events `ids` (its key is the first)."""
        if err is None:
            self._reported_acked += len(ids)
            self.stats.acked += len(ids)
            if self.track == "ids":
                self.acked_ids.extend(ids)
            return
        self.stats.failed += len(ids)
        self._keep_error(err)

    def _keep_error(self, err) -> None:
        if len(self.errors) < 20:  # the first few say why; the counts say how many
            self.errors.append(str(err))

    def _count_acked(self) -> None:
        """stats.acked: every event whose record left the producers' queues without a failure."""
        quiet = self._quiet_sent - self._quiet_failed - len(self.producer) if self.quiet else 0
        self.stats.acked = quiet + self._reported_acked

    def publish(self, by_stream: dict[str, list[tuple]]) -> None:
        """Produces each stream's items: (event id, record), (b"", record) for a record
        with no id (ingest names it by its coordinates), or (ids, JSON array of those
        events) as a source that batches makes them (collectors.synthetic)."""
        ids = self.acked_ids if self.quiet and self.track == "ids" else None
        for stream, items in by_stream.items():
            topic = self.topics.entry(stream)
            if self.events_per_record > 1 and stream in STREAMS:
                items = self._arrays(items)
            events = 0
            for key, value in items:
                if type(key) is list:
                    self._produce_array(topic, key, value)
                    events += len(key)
                    continue
                events += 1
                producer = self.producer if key else self.reported
                while True:
                    try:
                        producer.produce(topic, value, key or None)
                        break
                    except BufferError:
                        producer.poll(0.05)
                if not key:
                    self.stats.poison += 1
                elif self.quiet:
                    self._quiet_sent += 1
                    if ids is not None:
                        ids.append(key)
            self.stats.produced[stream] = self.stats.produced.get(stream, 0) + events
        self.poll(0)

    def _arrays(self, items: list[tuple]) -> list[tuple]:
        """`items` with their keyed single events grouped into JSON arrays of up to
        events_per_record each, in their order; keyless records and arrays stay as they are."""
        single = [type(key) is bytes and key != b"" for key, _ in items]
        if not any(single):
            return items
        keyed = [item for item, one in zip(items, single, strict=True) if one]
        keys, values = list(map(itemgetter(0), keyed)), list(map(itemgetter(1), keyed))
        per = self.events_per_record
        return ([item for item, one in zip(items, single, strict=True) if not one]
                + [(keys[at:at + per], b"[" + b",".join(values[at:at + per]) + b"]") for at in range(0, len(keys), per)])

    def _produce_array(self, topic: str, ids: list[bytes], value: bytes) -> None:
        if self.track == "coordinates":
            raise ValueError("coordinates name one event per record: track='coordinates' takes no arrays")
        while True:
            try:
                self.reported.produce(topic, value, ids[0], on_delivery=partial(self._delivered_array, ids))
                return
            except BufferError:
                self.reported.poll(0.05)

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery reports (waiting up to `timeout` s), so that the counts move on
        while nothing is being published."""
        self.producer.poll(timeout)
        if self.quiet:
            self.reported.poll(0)
        self._count_acked()

    def flush(self, timeout: float = 60.0) -> int:
        """Wait for every record's delivery; returns how many are still undelivered."""
        left = self.producer.flush(timeout)
        if self.quiet:
            left += self.reported.flush(timeout)
        self._count_acked()
        if self.failed_ids and self.acked_ids:
            self.acked_ids = [i for i in self.acked_ids if i not in self.failed_ids]
        return left

    def close(self) -> None:
        """Flush and release the producers (before the broker goes away, so they log no reconnects)."""
        if self.producer is not None:
            self.flush(10)
            self.producer = self.reported = None


def run_at_rate(make_batch: Callable[[int], dict], publisher: Publisher, rate: float, seconds: float,
                stop: threading.Event | None = None, on_tick: Callable[[float], None] | None = None,
                tick_s: float = FLUSH_INTERVAL_S) -> float:
    """Publish `rate` events/s for `seconds` (rate <= 0: as fast as possible), what is due
    once per `tick_s` at most, as an agent flushes its buffer at an interval: a batch is
    a tick's events, which the records then group. Publishing whatever was due whenever
    the last batch was done made batches of a few events at 60,000/s (records held under
    two events on average when the source cost nothing). A run that ends between ticks
    publishes what fell due before its end, one batch of at most MAX_BATCH like any
    other (a source that fell behind does not make up its deficit). Returns elapsed s."""
    start = time.monotonic()
    sent = 0
    last_report = start
    next_tick = start + tick_s
    while not (stop is not None and stop.is_set()):
        now = time.monotonic()
        elapsed = now - start
        last = elapsed >= seconds  # publish what fell due before the end, then stop
        if rate > 0:
            if not last:  # until the next tick, and at a low rate until an event is due
                wait = max(next_tick - now, (sent + 1) / rate - elapsed)
                if wait > 0:
                    time.sleep(min(wait, seconds - elapsed, 0.1))  # `stop` is looked at every 0.1 s
                    continue
            due = int(rate * min(elapsed, seconds)) - sent
        else:
            due = 0 if last else 5000
        due = min(due, MAX_BATCH)
        if due > 0:  # none: rounding, the event is due a hair later
            next_tick = now + tick_s
            publisher.publish(make_batch(due))
            sent += due
            if on_tick is not None and now - last_report >= 1.0:
                last_report = now
                on_tick(elapsed)
        if last:
            break
    return time.monotonic() - start
