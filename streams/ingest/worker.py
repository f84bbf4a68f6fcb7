"""The ingest worker: raw topics -> Ingestor -> normalized topics, signals, the DLQ,
partial rollups of closed windows, and the events some rule wants (detect input).

Each batch is one Kafka transaction holding its output records and the consumed
offsets, so a worker killed mid-batch leaves nothing visible to read_committed
readers and its replacement redoes the batch: no loss, no duplicates downstream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import orjson
from confluent_kafka import KafkaException, Producer, TopicPartition

from schemas import envelope, packed, source
from sinks.kafka import KafkaConfig, produce_all
from streams.aggregate import WindowAggregator, WindowConfig
from streams.ingest.pipeline import IngestConfig, Ingestor, IngestOutput
from streams.ingest.routing import DetectFilter
from streams.metrics import BATCH_SECONDS, DROPPED, ERRORS, LATE, SENT
from streams.runtime import BatchConsumer, Stopper, backoff_delays, gc_paused, partition_runs, retry_waits

log = logging.getLogger(__name__)
STAGE = "ingest"
FIRST_TAKE = 100  # records of a worker's first batch, before it knows its events per record


def records_per_batch(batch_size: int, records: int, events: int) -> int:
    """Records to consume so that a batch holds about `batch_size` events, when the last
    batch's `records` held `events` (a record that is a dead letter counts as one)."""
    per_record = max(events, records) / max(records, 1)
    return max(1, min(batch_size, int(batch_size / per_record)))


class IngestWorker:
    def __init__(self, kafka: KafkaConfig, cfg: IngestConfig, worker_index: int = 0,
                 windows: WindowConfig | None = None, detect: DetectFilter | None = None,
                 clock: Callable[[], float] = time.time):
        """clock: platform time (streams.clock), what `observed_ts` and the window
        watermark's wall-clock bounds are read from."""
        self.kafka = kafka
        self.clock = clock
        self.cfg = cfg
        self.topics = kafka.topics
        self.packed_topics = frozenset(self.topics.normalized_all)
        self.ingestor = Ingestor(self.topics, cfg)
        self.aggregator = WindowAggregator(windows or WindowConfig(), clock=clock)
        self.detect = detect
        self._next_reload_check = 0.0
        # A stable transactional.id per worker slot lets a restarted worker fence its
        # predecessor and abort the transaction it left open.
        self.producer = Producer(kafka.producer_conf(**{
            "transactional.id": f"{kafka.topic_prefix}-ingest-{worker_index}",
            "transaction.timeout.ms": 10000}))
        self.consumer: BatchConsumer | None = None
        self.batches = 0
        # Records per batch: batch_size events' worth at the last batch's events per record
        # (an array record holds up to hundreds, and a backlog would otherwise come in one
        # batch of millions); small until the first batch tells.
        self._take = min(cfg.batch_size, FIRST_TAKE)

    def start(self) -> IngestWorker:
        self.producer.init_transactions(30)
        self.consumer = BatchConsumer(self.kafka.consumer_conf(self.cfg.group), self.topics.raw_all, STAGE,
                                      on_revoke=self._revoked)
        return self

    def _revoked(self, partitions) -> None:
        # Another worker owns these now; open windows of theirs here would hold the watermark.
        for p in partitions:
            self.aggregator.remove_partition((p.topic, p.partition))

    def run(self, stopper: Stopper) -> None:
        while not stopper.stopped:
            self.step()
        log.info("ingest worker stopping after %d batches", self.batches)

    def step(self) -> int:
        """Consume and process one batch; return how many records it held."""
        assert self.consumer is not None, "start() first"
        # The whole batch, its consumed messages, aggregation and output too; the collector
        # comes back once the batch's objects are freed, so that it never walks them.
        with gc_paused(self.ingestor.cfg.pause_gc):
            records, offsets = self.consumer.records(self._take, self.cfg.batch_timeout_s)
            n = len(records)
            if n:
                events = self._step(records, offsets)
                self._take = records_per_batch(self.cfg.batch_size, n, events)
            del records
        return n

    def _step(self, records: list[tuple], offsets: list[TopicPartition]) -> int:
        """Process and commit one batch; returns how many events it held."""
        started = time.perf_counter()
        now = self.clock()
        out = self._process(records, now)
        self._commit_transaction(out.by_topic, offsets)
        for topic, items in out.by_topic.items():
            SENT.labels(STAGE, topic).inc(len(items))
        for reason, n in out.dropped.items():
            DROPPED.labels(STAGE, reason).inc(n)
        BATCH_SECONDS.labels(STAGE).observe(time.perf_counter() - started)
        self.batches += 1
        return len(out.events)

    def _process(self, records: list[tuple], now: float) -> IngestOutput:
        """Ingest the batch in one call (the redaction pre-check has a per-call cost), then
        aggregate per source partition (watermarks are per partition) and add the closed
        windows' partials and the events rules want to the same output."""
        out = self.ingestor.process(records, now, keep_events=True)
        events = out.events
        left_out: dict[str, int] = {}
        for topic, partition, start, end in partition_runs(out.event_sources):
            for reason, _event in self.aggregator.add_batch(events[start:end], partition=(topic, partition)):
                left_out[reason] = left_out.get(reason, 0) + 1
        for reason, n in left_out.items():
            LATE.labels(reason).inc(n)
        detect_items: list[bytes] = []
        if self.detect is not None:
            detect_items = self._detect_items(out)
            # Wall time: `now` is platform time, which a demo runs many times faster.
            wall = time.monotonic()
            if wall >= self._next_reload_check:
                self._next_reload_check = wall + 5.0
                self.detect.reload_if_changed()
        self._add_detect(out, detect_items + self._add_partials(out, self.aggregator.close_ready(now)))
        return out

    def _detect_items(self, out: IngestOutput) -> list[bytes]:
        """The events some rule wants, serialized, each with its raw source in `_src`
        ([raw partition, offset, index]): the detect stage drops an item whose source it
        has seen (schemas/source.py)."""
        events, origins = out.events, out.event_sources
        if len(events) != len(origins):
            raise ValueError(f"{len(events)} events but {len(origins)} sources")
        names: dict[tuple[str, int], str] = {}
        dumps = orjson.dumps
        items = []
        for i in self.detect.wanted_positions(events):
            ev = events[i]
            topic, partition, offset, index = origins[i]
            name = names.get((topic, partition))
            if name is None:
                name = names[topic, partition] = source.name(topic, partition)
            ev["_src"] = (name, offset, index)
            items.append(dumps(ev))
        return items

    def _add_partials(self, out: IngestOutput, partials: list[dict]) -> list[bytes]:
        """Every partial to the rollups topic (the store keeps them); returns those a rule
        reads, serialized, for the detect topic: the detect stage never reads the full
        rollup stream."""
        encoded = {id(p): (p["key"].encode(), orjson.dumps(p)) for p in partials}
        for key, value in encoded.values():
            out.add(self.topics.rollups, key, value)
        if self.detect is None:
            return []
        return [encoded[id(p)][1] for p in self.detect.wanted_rollups(partials)]  # serialized once for both

    def _add_detect(self, out: IngestOutput, items: list[bytes]) -> None:
        """The detect items travel packed, a few records per batch (schemas/envelope.py)."""
        for record in envelope.pack(items):
            out.add(self.topics.detect, None, record)  # one partition: no key to place it by

    def _records(self, by_topic: dict) -> dict[str, list]:
        """(key, value, headers) records per topic: the events of a normalized topic packed
        (schemas/packed.py), every other item a record of its own with its source header."""
        return {topic: packed.pack(items) if topic in self.packed_topics else
                [(key, value, None if src is None else [(source.HEADER, src)]) for key, value, src in items]
                for topic, items in by_topic.items()}

    def _commit_transaction(self, by_topic: dict, offsets: list[TopicPartition]) -> None:
        records = self._records(by_topic)
        consumer = self.consumer.consumer
        with retry_waits(consumer) as wait:
            for delay in backoff_delays():
                try:
                    self.producer.begin_transaction()
                    for topic, items in records.items():
                        produce_all(self.producer, topic, items)
                    if offsets:
                        self.producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata(), 30)
                    self.producer.commit_transaction(60)
                    return
                except KafkaException as exc:
                    err = exc.args[0]
                    ERRORS.labels(STAGE, "transaction").inc()
                    if err.txn_requires_abort():
                        log.warning("ingest transaction aborted, retrying batch: %s", err)
                        self.producer.abort_transaction(30)
                    elif not err.retriable():
                        raise
                    wait(delay)

    def close(self) -> None:
        """Emit the open windows (partials merge exactly downstream, so a window this
        worker did not finish is completed by whoever continues the partition), then stop."""
        if self.consumer is not None:
            partials = self.aggregator.flush_all()
            if partials:
                out = IngestOutput()
                self._add_detect(out, self._add_partials(out, partials))
                try:
                    self._commit_transaction(out.by_topic, [])
                except Exception as exc:  # noqa: BLE001 - shutting down: say so, never hang
                    log.error("ingest: could not emit %d open-window partials at shutdown: %s", len(partials), exc)
            self.consumer.close()
        self.producer.flush(10)
