"""The store loop: normalized topics -> ClickHouse, the only writer of ClickHouse.

Delivery: offsets are committed only after ClickHouse acknowledged the insert. Three
guards make a replay harmless:
- every insert carries a deduplication token built from the batch's coordinates;
- on partition assignment the store reads back the highest `_offset` already stored
  per partition and skips records at or below it, so a batch cut differently after a
  restart cannot land twice;
- ingest's records carry their raw sources (schemas/source.py, schemas/packed.py); per
  output partition, raw partition and record key the store keeps the highest source
  stored (read back on assignment too) and drops an event at or below it: a batch
  ingest wrote twice, once in a transaction the broker did not hide after an abort
  or a fence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import orjson
from confluent_kafka import Message, TopicPartition
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import packed, source
from schemas.errors import SinkError
from schemas.events import DeploymentEvent
from schemas.ids import stable_event_id
from schemas.tables import TABLES
from sinks.clickhouse import ClickHouseSink, RawBatch
from sinks.clickhouse.sink import dedup_token
from sinks.kafka import KafkaConfig, kafka_cluster_id
from streams.aggregate.clickhouse import partials_to_columns, rollup_insert_templates
from streams.metrics import BATCH_SECONDS, DROPPED, ERRORS, REPLAYED, SENT
from streams.runtime import BatchConsumer, Stopper, backoff_delays, gc_paused, retry_waits

log = logging.getLogger(__name__)
STAGE = "store"
ROLLUPS = "rollups"


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(default="sluice-store", description="consumer group of the store workers (in Settings: <kafka.topic_prefix>-store unless set)")
    batch_size: int = Field(default=50000, ge=1, description="max records per ClickHouse insert round")
    # An insert costs the embedded engine ~15 ms of CPU before its first row (planning, a new
    # part, later merges), once per table and round: at 0.25 s that alone took a third of a core.
    batch_timeout_s: float = Field(default=0.5, gt=0, description="max wait for a batch to fill; bounds freshness")

# Streams other tools write straight to their topic (no ingest in front): checked here,
# record by record; they are low-volume.
VALIDATED: dict[str, type[BaseModel]] = {"deployments": DeploymentEvent}


class StoreWorker:
    def __init__(self, kafka: KafkaConfig, cfg: StoreConfig, sink: ClickHouseSink):
        self.kafka = kafka
        self.cfg = cfg
        self.sink = sink
        topics = kafka.topics
        self.stream_of_topic = {t: topics.stream_of(t) for t in [*topics.normalized_all, topics.dlq]}
        self.stream_of_topic[topics.rollups] = ROLLUPS
        self.stream_of_topic[topics.alert_history] = "alert_history"
        self.stream_of_topic[topics.silences] = "silences"
        self.stream_of_topic[topics.dlq_replays] = "dlq_replays"
        self.stream_of_topic[topics.deployments] = "deployments"
        self.consumer: BatchConsumer | None = None
        # (topic, partition) -> highest offset already in ClickHouse
        self.stored: dict[tuple[str, int], int] = {}
        # (topic, partition, raw source, record key) -> highest (source offset, index) stored:
        # ingest writes the events of one key and raw partition in order (schemas/packed.py)
        self.sources = source.Marks()
        self.sourced = {t for t, stream in self.stream_of_topic.items() if stream in TABLES and TABLES[stream].sourced}
        self.rows_written = 0
        self.cluster_id = ""

    def start(self) -> StoreWorker:
        self.sink.start()
        self.cluster_id = kafka_cluster_id(self.kafka)
        self.consumer = BatchConsumer(self.kafka.consumer_conf(self.cfg.group),
                                      list(self.stream_of_topic), STAGE, on_assign=self._assigned)
        return self

    def _assigned(self, partitions: list[TopicPartition]) -> None:
        for topic in {p.topic for p in partitions}:
            if self.stream_of_topic[topic] not in TABLES:
                continue  # rollups: their tables keep no coordinates; the dedup token guards them
            for delay in backoff_delays():
                try:
                    marks = self.sink.high_water_marks(self.stream_of_topic[topic], self.cluster_id, topic)
                    sources = (self.sink.source_marks(self.stream_of_topic[topic], self.cluster_id, topic)
                               if topic in self.sourced else {})
                    break
                except SinkError as exc:
                    if not exc.retryable:
                        raise
                    log.warning("store: reading stored offsets of %s failed, retrying: %s", topic, exc)
                    time.sleep(delay)
            assigned = {p.partition for p in partitions if p.topic == topic}
            for part in assigned & marks.keys():
                self.stored[(topic, part)] = marks[part]
            for (part, src, key), mark in sources.items():
                if part in assigned:
                    self.sources.table[(topic, part, src, key)] = mark

    def run(self, stopper: Stopper) -> None:
        while not stopper.stopped:
            self.step()

    def step(self) -> int:
        assert self.consumer is not None, "start() first"
        msgs, offsets = self.consumer.batch(self.cfg.batch_size, self.cfg.batch_timeout_s)
        if not msgs:
            return 0
        started = time.perf_counter()
        with gc_paused():  # a batch's columns hold no reference cycles (streams/runtime.py)
            self._write_batch(msgs)
        self.consumer.commit(offsets)
        BATCH_SECONDS.labels(STAGE).observe(time.perf_counter() - started)
        return len(msgs)

    def _write_batch(self, msgs: list[Message]) -> None:
        for topic, (batch, ranges) in self._split(msgs).items():
            if self.stream_of_topic[topic] == ROLLUPS:
                self._write_rollups(topic, batch, ranges)
            else:
                self._write(topic, batch, ranges)

    def _split(self, msgs: list[Message]) -> dict[str, tuple[RawBatch, dict[int, tuple[int, int]]]]:
        """Group by topic into column batches of events (a packed record holds several,
        schemas/packed.py), dropping records already stored and events ingest wrote twice."""
        out: dict[str, tuple[RawBatch, dict[int, tuple[int, int]]]] = {}
        stored = self.stored
        first_fresh = self.sources.first_fresh
        sourced = self.sourced
        cluster = self.cluster_id
        replayed: dict[str, int] = {}
        for m in msgs:
            topic, part, off = m.topic(), m.partition(), m.offset()
            value = m.value()
            if value is None or off <= stored.get((topic, part), -1):
                continue  # a tombstone (compacted topics) has no row; or it landed already
            text = value.decode("utf-8", "replace")
            if topic in sourced:
                src, offsets, indexes, lines = _events_of(m, text)
                start = first_fresh((topic, part, src, m.key() or b""), offsets, indexes) if src else 0
                if start:
                    replayed[topic] = replayed.get(topic, 0) + start
                    if start == len(lines):
                        continue
                    offsets, indexes, lines = offsets[start:], indexes[start:], lines[start:]
            else:
                src, offsets, indexes, lines, start = "", (0,), (0,), [text], 0
            entry = out.get(topic)
            if entry is None:
                entry = out[topic] = ({"raw": [], "_cluster": [], "_topic": [], "_partition": [], "_offset": [],
                                       "_source": [], "_source_offset": [], "_source_index": [], "_index": []}, {})
            batch, ranges = entry
            n = len(lines)
            batch["raw"].extend(lines)
            batch["_cluster"].extend([cluster] * n)
            batch["_topic"].extend([topic] * n)
            batch["_partition"].extend([part] * n)
            batch["_offset"].extend([off] * n)
            batch["_source"].extend([src] * n)
            batch["_source_offset"].extend(offsets)
            batch["_source_index"].extend(indexes)
            batch["_index"].extend(range(start, start + n))
            first, _ = ranges.get(part, (off, off))
            ranges[part] = (first, off)
        for topic, n in replayed.items():
            log.warning("store: dropped %d events of %s that ingest wrote twice (a transaction the broker "
                        "did not hide after an abort or fence, then its replay)", n, topic)
            REPLAYED.labels(topic).inc(n)
        return out

    def _write(self, topic: str, batch: RawBatch, ranges: dict[int, tuple[int, int]]) -> None:
        stream = self.stream_of_topic[topic]
        if stream in VALIDATED:
            batch = self._drop_invalid(topic, VALIDATED[stream], batch)
        try:
            # every record invalid: all dead-lettered, and ClickHouse refuses an insert of no rows
            if batch["raw"]:
                self._insert(TABLES[stream].table,
                             partial(self.sink.write, stream, batch, dedup_token(self.cluster_id, topic, ranges)))
        except SinkError as exc:
            if exc.retryable:
                raise
            self._isolate(topic, stream, batch, exc)
        for part, (_, last) in ranges.items():
            self.stored[(topic, part)] = last
        n = len(batch["raw"])
        self.rows_written += n
        SENT.labels(STAGE, TABLES[stream].table).inc(n)

    def _write_rollups(self, topic: str, batch: RawBatch, ranges: dict[int, tuple[int, int]]) -> None:
        partials = [orjson.loads(raw) for raw in batch["raw"]]
        columns = partials_to_columns(partials)
        token = dedup_token(self.cluster_id, topic, ranges)
        for table, (template, structure) in rollup_insert_templates(self.sink.cfg.database).items():
            cols = columns.get(table)
            n = len(next(iter(cols.values()))) if cols else 0
            if n:
                self._insert(table, partial(self.sink.insert_columns, template, cols, structure, f"{token}-{table}"))
                SENT.labels(STAGE, table).inc(n)

    def _insert(self, table: str, write: Callable[[], None]) -> None:
        """Insert, backing off on retryable errors with fetching paused; raise permanent ones."""
        # Backpressure: fetching stops while ClickHouse recovers (retry_waits).
        with retry_waits(self.consumer.consumer) as wait:
            for delay in backoff_delays():
                try:
                    write()
                    return
                except SinkError as exc:
                    ERRORS.labels(STAGE, "sink_retryable" if exc.retryable else "sink_permanent").inc()
                    if not exc.retryable:
                        raise
                    log.warning("store: insert into %s failed (code %s), retrying in %.1fs",
                                table, exc.code, delay)
                    wait(delay)

    def _isolate(self, topic: str, stream: str, batch: RawBatch, exc: SinkError) -> None:
        """A permanent rejection: bisect to the records ClickHouse refuses and dead-letter
        those, so one poison record neither blocks the partition nor is lost."""
        n = len(batch["raw"])
        if n == 1 or stream == "dlq":
            self._dead_letter(topic, batch, "sink_rejected", str(exc), exc)
            return
        half = n // 2
        for part in ({k: v[:half] for k, v in batch.items()}, {k: v[half:] for k, v in batch.items()}):
            try:
                self._insert(TABLES[stream].table, partial(self.sink.write, stream, part, self._rows_token(topic, part)))
            except SinkError as inner:
                if inner.retryable:
                    raise
                self._isolate(topic, stream, part, inner)

    def _drop_invalid(self, topic: str, model: type[BaseModel], batch: RawBatch) -> RawBatch:
        """Records of a topic other tools write (no ingest in front): the invalid ones
        become dead letters instead of rows of defaults."""
        bad: dict[int, str] = {}
        for i, raw in enumerate(batch["raw"]):
            try:
                model.model_validate_json(raw)
            except ValidationError as exc:
                bad[i] = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
        if not bad:
            return batch
        for i, detail in bad.items():
            self._dead_letter(topic, {k: v[i:i + 1] for k, v in batch.items()}, "schema_violation", detail)
        return {k: [x for i, x in enumerate(v) if i not in bad] for k, v in batch.items()}

    def _dead_letter(self, topic: str, batch: RawBatch, reason: str, detail: str,
                     exc: SinkError | None = None) -> None:
        if exc is not None and self.stream_of_topic[topic] == "dlq":
            # Nowhere further to send it: this is a bug in our own DLQ records.
            log.error("store: ClickHouse rejected %d dead-letter records: %s", len(batch["raw"]), exc)
            raise exc
        now = time.time()
        rows = [orjson.dumps({
            "event_id": stable_event_id(topic, p, o, i), "ts": now, "reason": reason,
            "detail": detail[:1000], "source_topic": topic, "source_partition": p, "source_offset": o,
            "kind": self.stream_of_topic[topic], "payload": raw}).decode()
            for raw, p, o, i in zip(batch["raw"], batch["_partition"], batch["_offset"], batch["_index"], strict=True)]
        dlq_batch: RawBatch = {**batch, "raw": rows}
        token = f"{reason}-" + self._rows_token(topic, batch)
        self._insert("dead_letters", partial(self.sink.write, "dlq", dlq_batch, token))
        DROPPED.labels(STAGE, reason).inc(len(rows))

    def _rows_token(self, topic: str, batch: RawBatch) -> str:
        """The dedup token of a slice of a batch: its offset ranges, and the places in
        their records of its first and last event, since a slice may cut a packed record."""
        ranges: dict[int, tuple[int, int]] = {}
        for p, o in zip(batch["_partition"], batch["_offset"], strict=True):
            first, _ = ranges.get(p, (o, o))
            ranges[p] = (first, o)
        return f"{dedup_token(self.cluster_id, topic, ranges)}.{batch['_index'][0]}.{batch['_index'][-1]}"

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.sink.close()


def _events_of(m: Message, text: str) -> tuple[str, tuple, tuple, list[str]]:
    """(raw partition, source offsets, source indexes, event texts) of an ingest record:
    one event with a schemas.source header, or a packed record (schemas/packed.py). A
    record without a source, or with a malformed one, lands unguarded: no source."""
    for key, value in m.headers() or ():
        if key == source.HEADER:
            try:
                src, offset, index = source.parse(value)
            except ValueError:
                break
            return src, (offset,), (index,), [text]
        if key == packed.SOURCES:
            lines = text.split("\n")
            try:
                src, offsets, indexes = packed.sources(value)
            except ValueError:
                src, offsets, indexes = "", (), ()
            if len(offsets) != len(lines):
                zeros = (0,) * len(lines)
                return "", zeros, zeros, lines
            return src, offsets, indexes, lines
    return "", (0,), (0,), [text]
