"""The batch-loop runtime shared by the high-volume stages (ingest, store):
consume in batches, hand good records to the stage, surface broker errors as counted
errors (never a crash), and stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from streams.ingest import accel
from streams.metrics import ERRORS, RECEIVED

log = logging.getLogger(__name__)
_messages = accel.load("_messages")


@contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Python's cyclic collector off for the block (a batch): a batch allocates
    thousands of events, lists and tuples, none in a reference cycle, and each
    allocation threshold crossed would otherwise walk all of them. Freed by reference
    counting at the end of the batch as always; nested use leaves it to the outermost."""
    paused = pause and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class Stopper:
    """Set by SIGTERM/SIGINT (or by a test) to end a loop between batches.

    A plain flag, not a threading.Event: a handler runs between the main thread's bytecodes,
    so a second signal landing while the first handler held Event's lock (a supervisor's TERM
    plus a forwarded one, a double Ctrl-C) blocked the main thread on that lock forever."""

    def __init__(self, install_signals: bool = True):
        self._stopped = False
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._signalled)
            signal.signal(signal.SIGINT, self._signalled)

    def _signalled(self, signum, frame) -> None:
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        self._stopped = True


class BatchConsumer:
    """A confluent-kafka consumer returning batches of good messages."""

    def __init__(self, conf: dict, topics: list[str], stage: str,
                 on_assign: Callable[[list[TopicPartition]], None] | None = None,
                 on_revoke: Callable[[list[TopicPartition]], None] | None = None):
        self.stage = stage
        self.consumer = Consumer({**conf, "enable.partition.eof": False})
        self._on_assign = on_assign
        self._on_revoke = on_revoke
        self.consumer.subscribe(topics, on_assign=self._assigned, on_revoke=self._revoked)
        self._received = {}

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s assigned %s", self.stage, [(p.topic, p.partition) for p in partitions])
        if self._on_assign:
            self._on_assign(partitions)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s revoked %s", self.stage, [(p.topic, p.partition) for p in partitions])
        if self._on_revoke:
            self._on_revoke(partitions)

    def batch(self, max_messages: int, timeout: float) -> tuple[list[Message], list[TopicPartition]]:
        """A batch of good messages, and the offsets to commit after it."""
        msgs = self.consumer.consume(max_messages, timeout)
        if not msgs:
            return [], []
        records, offsets = self._take(msgs)
        return (msgs if len(records) == len(msgs) else [m for m in msgs if m.error() is None]), offsets

    def records(self, max_messages: int, timeout: float) -> tuple[list[tuple], list[TopicPartition]]:
        """A batch as (value, topic, partition, offset) records, and the offsets to
        commit after it: for a stage that needs nothing else of the messages."""
        msgs = self.consumer.consume(max_messages, timeout)
        if not msgs:
            return [], []
        return self._take(msgs)

    def _take(self, msgs: list[Message]) -> tuple[list[tuple], list[TopicPartition]]:
        """Records and commit offsets of a consumed batch; its broker errors surfaced and
        its messages counted."""
        records, errors, counts, top = unpack(msgs)
        for err in errors:
            self._broker_error(err)
        for t, n in counts.items():
            counter = self._received.get(t)
            if counter is None:
                counter = self._received[t] = RECEIVED.labels(self.stage, t)
            counter.inc(n)
        return records, [TopicPartition(t, p, o + 1) for (t, p), o in top.items()]

    def _broker_error(self, err: KafkaError) -> None:
        ERRORS.labels(self.stage, "broker").inc()
        if err.fatal():
            raise RuntimeError(f"fatal Kafka error in {self.stage}: {err}")
        log.warning("%s consumer error: %s", self.stage, err)

    def commit(self, offsets: list[TopicPartition]) -> None:
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        try:
            self.consumer.close()
        except RuntimeError:
            pass  # already closed


def _unpack_python(msgs: list[Message]) -> tuple[list[tuple], list[KafkaError], dict[str, int],
                                                   dict[tuple[str, int], int]]:
    """(value, topic, partition, offset) of each message without an error, the errors,
    such messages per topic, and per (topic, partition) the highest offset. The
    reference of _messages.c `unpack`, which the ingest worker's 10,000-message batches use."""
    records, errors, counts, top = [], [], {}, {}
    for m in msgs:
        err = m.error()
        if err is not None:
            errors.append(err)
            continue
        t, p, o = m.topic(), m.partition(), m.offset()
        records.append((m.value(), t, p, o))
        counts[t] = counts.get(t, 0) + 1
        if o >= top.get((t, p), -1):
            top[t, p] = o
    return records, errors, counts, top


def _partition_runs_python(sources: list[tuple]) -> list[tuple[str, int, int, int]]:
    """(topic, partition, start, end) of each run of consecutive events from one raw
    partition (sources: an IngestOutput's event_sources): watermarks are per partition,
    and a batch holds a few long runs. The reference of _messages.c `partition_runs`."""
    runs = []
    start = 0
    for i in range(1, len(sources) + 1):
        if i == len(sources) or sources[i][:2] != sources[start][:2]:
            runs.append((*sources[start][:2], start, i))
            start = i
    return runs


def _accelerated(name: str, reference: Callable, arg):
    """_messages.<name>(arg) where built and wanted; the reference otherwise, and for
    input the C function does not take (it raises TypeError before doing anything)."""
    if _messages is not None and accel.wanted():
        try:
            return getattr(_messages, name)(arg)
        except TypeError:
            pass
    return reference(arg)


def unpack(msgs: list[Message]) -> tuple[list[tuple], list[KafkaError], dict[str, int], dict[tuple[str, int], int]]:
    return _accelerated("unpack", _unpack_python, msgs)


def partition_runs(sources: list[tuple]) -> list[tuple[str, int, int, int]]:
    return _accelerated("partition_runs", _partition_runs_python, sources)


def backoff_delays(base: float = 0.2, cap: float = 10.0):
    """Exponential back-off delays, forever; the caller decides when to give up."""
    delay = base
    while True:
        yield delay
        delay = min(cap, delay * 2)


@contextmanager
def retry_waits(consumer: Consumer) -> Iterator[Callable[[float], None]]:
    """`wait(delay)` between the retries of a batch. The first wait pauses the consumer's
    partitions: the wait polls to keep the consumer in its group, and paused it hands
    out none of the records after the batch (their offsets would be committed unread)
    and stops fetching (memory stays bounded). They resume when the block ends."""
    paused = False

    def wait(delay: float) -> None:
        nonlocal paused
        if not paused:
            consumer.pause(consumer.assignment())
            paused = True
        sleep_polling(consumer, delay)

    try:
        yield wait
    finally:
        if paused:
            consumer.resume(consumer.assignment())


def sleep_polling(consumer: Consumer, seconds: float) -> None:
    """Wait while keeping the consumer served. Callers pause their partitions first; a
    message polled all the same is put back (a seek to it), never consumed unseen."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = consumer.poll(min(0.1, max(0.0, end - time.monotonic())))
        if msg is not None and msg.error() is None:
            consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
