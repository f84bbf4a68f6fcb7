"""Waiting while keeping a consumer served must never consume a record unseen: one
polled during the wait (its partition not paused) is put back for the next batch."""

from __future__ import annotations

from confluent_kafka import KafkaError, Message

from streams.runtime import retry_waits, sleep_polling


class _Consumer:
    def __init__(self, messages):
        self.messages = list(messages)
        self.seeks = []

    def poll(self, timeout):
        return self.messages.pop(0) if self.messages else None

    def seek(self, tp):
        self.seeks.append((tp.topic, tp.partition, tp.offset))


def test_a_record_polled_while_waiting_is_put_back():
    error = Message(topic="t", partition=0, offset=-1, error=KafkaError(KafkaError._PARTITION_EOF))
    consumer = _Consumer([Message(topic="t", partition=3, offset=41, value=b"x"), error, None])
    sleep_polling(consumer, 0.05)
    assert consumer.seeks == [("t", 3, 41)]


class _Pausable(_Consumer):
    def __init__(self):
        super().__init__([])
        self.calls = []

    def assignment(self):
        return ["p0", "p1"]

    def pause(self, parts):
        self.calls.append(("pause", parts))

    def resume(self, parts):
        self.calls.append(("resume", parts))


def test_retry_waits_pause_once_and_resume_when_the_retries_end():
    consumer = _Pausable()
    with retry_waits(consumer):
        pass
    assert consumer.calls == []  # no retry, no pause
    try:
        with retry_waits(consumer) as wait:
            wait(0.01)
            wait(0.01)
            raise RuntimeError("gave up")
    except RuntimeError:
        pass
    assert consumer.calls == [("pause", ["p0", "p1"]), ("resume", ["p0", "p1"])]
