"""An ingest worker that dies with its transaction open, or aborts one, must not land
its records twice. Kafka hides aborted records from read_committed consumers; the
embedded broker (Tansu) does not: it only holds back open transactions, so a fenced
or aborted batch becomes readable and its replay would land a second time. The store
therefore also drops records whose ingest source it already stored."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams.ingest.pipeline import IngestConfig
from streams.ingest.worker import IngestWorker
from tests.integration.harness import Pipeline, log_event, produce, values

pytestmark = pytest.mark.integration
# Services interleave: ingest packs each key's events into records of their own
# (schemas/packed.py), so an output partition holds a raw partition's events out of order.
SERVICES = ["payments", "ledger", "auth"]


class Died(Exception):
    """Stands for SIGKILL between produce and commit: the transaction stays open."""


@pytest.fixture
def pipeline(stack):
    p = Pipeline(stack)
    yield p
    p.close()


class _Producer:
    """The worker's real producer with one method replaced (cimpl attributes are read-only)."""

    def __init__(self, real, **replaced):
        self._real = real
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._real, name)


def _dies_before_commit(worker: IngestWorker) -> None:
    real = worker.producer

    def die(*_args):
        real.flush(30)  # every record of the batch reached the broker
        raise Died()
    worker.producer = _Producer(real, commit_transaction=die)


def _settle(store, joining: bool = False, quiet_s: float = 2.0) -> None:
    """Step the store until it has read nothing for `quiet_s`; a store that is still
    `joining` its group first gets the time a join takes on the embedded broker."""
    start = last_read = time.monotonic()
    settle_after = start + (10.0 if joining else 0.0)
    while True:
        now = time.monotonic()
        if now - last_read >= quiet_s and now >= settle_after:
            return
        if store.step() > 0:
            last_read = time.monotonic()


def _events(pipeline: Pipeline) -> dict:
    return pipeline.rows(f"SELECT count() AS n, uniqExact(event_id) AS u FROM {pipeline.db}.logs")[0]


@pytest.mark.parametrize("store_restarts", [False, True], ids=["store-runs-on", "store-restarts-between"])
def test_batch_of_a_worker_killed_mid_transaction_lands_once(pipeline, stack, store_restarts):
    produce(stack, "logs", values([log_event(i, service=SERVICES[i % 3]) for i in range(2000)]))
    pipeline.pump_ingest(2000)  # a committed first pass, to start from committed offsets
    produce(stack, "logs", values([log_event(i, service=SERVICES[i % 3]) for i in range(2000, 2600)]))
    _dies_before_commit(pipeline.ingest)
    with pytest.raises(Died):
        while True:
            pipeline.ingest.step()
    pipeline.ingest.consumer.close()  # the process is gone; its transaction is left open
    # The replacement fences its predecessor (same transactional.id) and replays the batch.
    pipeline.ingest = IngestWorker(stack.kafka, IngestConfig(group=f"{stack.kafka.topic_prefix}-ingest",
                                                             batch_timeout_s=0.2)).start()
    if store_restarts:
        # Where the broker shows the fenced batch, it lands now; a new store must still
        # know its sources (read back from ClickHouse) when the replay comes.
        pipeline.pump_store("logs", 2000)
        for _ in range(3):
            pipeline.store.step()
        pipeline.store.close()
        pipeline.store = pipeline.new_store(50000)
    pipeline.pump_ingest(600)
    pipeline.pump_store("logs", 2600)
    _settle(pipeline.store, joining=store_restarts)
    assert _events(pipeline) == {"n": 2600, "u": 2600}


def test_aborted_and_retried_transaction_lands_once(pipeline, stack):
    produce(stack, "logs", values([log_event(i, service=SERVICES[i % 3]) for i in range(800)]))
    worker = pipeline.ingest
    real = worker.producer
    calls = []

    def fail_first(*args):
        calls.append(1)
        if len(calls) == 1:
            real.flush(30)  # the batch reached the broker; the worker then aborts and retries it
            raise KafkaException(KafkaError(KafkaError._STATE, "simulated abortable error", txn_requires_abort=True))
        return real.commit_transaction(*args)

    worker.producer = _Producer(real, commit_transaction=fail_first)
    pipeline.pump_ingest(800)
    assert len(calls) >= 2
    pipeline.pump_store("logs", 800)
    _settle(pipeline.store)
    assert _events(pipeline) == {"n": 800, "u": 800}
