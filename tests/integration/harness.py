"""Drive the real ingest and store workers in-process, step by step, against a real
broker and a real ClickHouse engine."""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Producer

from sinks.clickhouse import ClickHouseSink
from sinks.kafka import ensure_topics
from streams.ingest.pipeline import IngestConfig
from streams.ingest.worker import IngestWorker
from streams.store import StoreConfig, StoreWorker
from tests.integration.stacks import StackConfig


def produce(stack: StackConfig, stream: str, values: list[bytes], keys: list[bytes] | None = None) -> list[int]:
    """Produce to a raw topic and return the offsets the broker assigned."""
    offsets: list[int] = []
    p = Producer(stack.kafka.producer_conf(**{
        "on_delivery": lambda err, msg: offsets.append(msg.offset()) if err is None else None}))
    for i, v in enumerate(values):
        p.produce(stack.kafka.topics.raw(stream), v, keys[i] if keys else None, partition=0)
    assert p.flush(30) == 0
    return offsets


def log_event(i: int, **extra) -> dict:
    return {"event_id": f"00000000-0000-7000-8000-{i:012d}", "ts": time.time() - 600 + i / 1000, "level": "info",
            "service": "payments", "msg": f"payment {i} authorized", **extra}


class Pipeline:
    def __init__(self, stack: StackConfig, store_batch: int = 50000):
        self.stack = stack
        ensure_topics(stack.kafka, stack.kafka.topics.all())
        self.ingest = IngestWorker(stack.kafka, IngestConfig(group=f"{stack.kafka.topic_prefix}-ingest",
                                                             batch_timeout_s=0.2)).start()
        self._store_batch = store_batch
        self._store: StoreWorker | None = None
        self.others: list[StoreWorker] = []

    @property
    def store(self) -> StoreWorker:
        """Created on first use: a consumer that joins the group and leaves unused only
        makes the next member's join wait."""
        if self._store is None:
            self._store = self.new_store(self._store_batch)
        return self._store

    @store.setter
    def store(self, worker: StoreWorker) -> None:
        self._store = worker

    def new_store(self, batch_size: int) -> StoreWorker:
        sink = ClickHouseSink(self.stack.clickhouse)
        worker = StoreWorker(self.stack.kafka, StoreConfig(group=f"{self.stack.kafka.topic_prefix}-store",
                                                           batch_size=batch_size, batch_timeout_s=0.2), sink).start()
        self.others.append(worker)
        return worker

    @property
    def db(self) -> str:
        return self.stack.clickhouse.database

    def rows(self, sql: str) -> list[dict]:
        return self.store.sink.query_rows(sql)

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT count() AS n FROM {self.db}.{table}")[0]["n"])

    def pump_ingest(self, expected: int, timeout: float = 60) -> None:
        done = 0
        deadline = time.monotonic() + timeout
        while done < expected:
            assert time.monotonic() < deadline, f"ingest processed {done} of {expected}"
            done += self.ingest.step()

    def pump_store(self, table: str, expected: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count(table) < expected:
            assert time.monotonic() < deadline, f"{table} holds {self.count(table)} of {expected}"
            self.store.step()

    def close(self) -> None:
        """Close everything this pipeline opened, even after a failed test: the process
        can hold one chDB directory at a time, and a leaked one breaks every later test."""
        self.ingest.close()
        for worker in self.others:
            try:
                worker.close()
            except Exception:  # noqa: BLE001 - already closed by the test
                pass


def values(events: list[dict]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]
