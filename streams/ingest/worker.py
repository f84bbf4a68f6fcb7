"""The ingest worker: raw topics -> Ingestor -> normalized topics, signals and the DLQ.

Each batch is one Kafka transaction holding its output records and the consumed
offsets, so a worker killed mid-batch leaves nothing visible to read_committed
readers and its replacement redoes the batch: no loss, no duplicates downstream.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException, Producer, TopicPartition

from sinks.kafka import KafkaConfig, produce_all
from streams.ingest.pipeline import IngestConfig, Ingestor
from streams.metrics import BATCH_SECONDS, DROPPED, ERRORS, SENT
from streams.runtime import BatchConsumer, Stopper, backoff_delays, next_offsets, sleep_polling

log = logging.getLogger(__name__)
STAGE = "ingest"


class IngestWorker:
    def __init__(self, kafka: KafkaConfig, cfg: IngestConfig, worker_index: int = 0):
        self.kafka = kafka
        self.cfg = cfg
        self.topics = kafka.topics
        self.ingestor = Ingestor(self.topics, cfg)
        # A stable transactional.id per worker slot lets a restarted worker fence its
        # predecessor and abort the transaction it left open.
        self.producer = Producer(kafka.producer_conf(**{
            "transactional.id": f"{kafka.topic_prefix}-ingest-{worker_index}",
            "transaction.timeout.ms": 10000}))
        self.consumer: BatchConsumer | None = None
        self.batches = 0

    def start(self) -> IngestWorker:
        self.producer.init_transactions(30)
        self.consumer = BatchConsumer(self.kafka.consumer_conf(self.cfg.group), self.topics.raw_all, STAGE)
        return self

    def run(self, stopper: Stopper) -> None:
        while not stopper.stopped:
            self.step()
        log.info("ingest worker stopping after %d batches", self.batches)

    def step(self) -> int:
        """Consume and process one batch; return how many records it held."""
        assert self.consumer is not None, "start() first"
        msgs = self.consumer.batch(self.cfg.batch_size, self.cfg.batch_timeout_s)
        if not msgs:
            return 0
        started = time.perf_counter()
        records = [(m.value(), m.topic(), m.partition(), m.offset()) for m in msgs]
        out = self.ingestor.process(records, time.time())
        self._commit_transaction(out.by_topic, next_offsets(msgs))
        for topic, items in out.by_topic.items():
            SENT.labels(STAGE, topic).inc(len(items))
        for reason, n in out.dropped.items():
            DROPPED.labels(STAGE, reason).inc(n)
        BATCH_SECONDS.labels(STAGE).observe(time.perf_counter() - started)
        self.batches += 1
        return len(msgs)

    def _commit_transaction(self, by_topic: dict, offsets: list[TopicPartition]) -> None:
        for delay in backoff_delays():
            try:
                self.producer.begin_transaction()
                for topic, items in by_topic.items():
                    produce_all(self.producer, topic, items)
                self.producer.send_offsets_to_transaction(
                    offsets, self.consumer.consumer.consumer_group_metadata(), 30)
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
                sleep_polling(self.consumer.consumer, delay)

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.producer.flush(10)
