"""The publisher's delivery accounting: what the broker acknowledged, per `track` mode."""

import time

from confluent_kafka import KafkaError, Message

from collectors.publisher import Publisher
from schemas.ids import stable_event_id
from sinks.kafka import KafkaConfig

TOPIC = "sluice.raw.logs"


def _report(offset: int, key: bytes | None) -> Message:
    return Message(topic=TOPIC, partition=2, offset=offset, key=key, value=b"{}")


def test_acks_failures_and_ids_are_counted_exactly_in_every_track_mode():
    reports = [_report(10, b"0190-id"), _report(11, None), _report(12, b"")]
    expected = {
        "ids": [b"0190-id", stable_event_id(TOPIC, 2, 11).encode(), stable_event_id(TOPIC, 2, 12).encode()],
        "coordinates": [f"{TOPIC}/2/{offset}".encode() for offset in (10, 11, 12)],
        None: [],
    }
    for track, ids in expected.items():
        pub = Publisher(KafkaConfig(bootstrap_servers="127.0.0.1:9", client={"log_level": 0}), track=track)
        try:
            pub._delivered(None, reports[0])
            pub.acked_ids = []  # a harness may move the ids elsewhere mid-run
            for report in reports:
                pub._delivered(None, report)
            for _ in range(25):
                pub._delivered(KafkaError(KafkaError._MSG_TIMED_OUT), reports[0])
            assert (pub.stats.acked, pub.stats.failed, len(pub.errors)) == (4, 25, 20)
            assert pub.acked_ids == ids
        finally:
            pub.producer = None


def test_an_array_record_acks_and_fails_all_its_events():
    pub = Publisher(KafkaConfig(bootstrap_servers="127.0.0.1:9", client={"log_level": 0}), events_per_record=3)
    try:
        pub._delivered_array([b"a", b"b", b"c"], None, _report(10, b"a"))
        pub._delivered_array([b"d"], None, _report(11, b"d"))
        pub._delivered_array([b"e", b"f"], KafkaError(KafkaError._MSG_TIMED_OUT), _report(12, b"e"))
        assert (pub.stats.acked, pub.stats.failed, pub.acked_ids) == (4, 2, [b"a", b"b", b"c", b"d"])
        assert pub.errors and "timed out" in pub.errors[0].lower()
    finally:
        pub.producer = None


def test_events_per_record_is_checked():
    kafka = KafkaConfig(bootstrap_servers="127.0.0.1:9", client={"log_level": 0})
    for bad in ({"events_per_record": 0}, {"events_per_record": 2, "track": "coordinates"}):
        try:
            Publisher(kafka, **bad)
        except ValueError as exc:
            assert "events_per_record" in str(exc)
        else:
            raise AssertionError(f"accepted {bad}")


def test_loose_events_are_grouped_into_arrays_and_ready_arrays_and_poison_stay():
    pub = Publisher(KafkaConfig(bootstrap_servers="127.0.0.1:9", client={"log_level": 0}), events_per_record=2)
    try:
        ready = ([b"x", b"y"], b'[{"a":1},{"a":2}]')
        items = [(b"a", b'{"n":1}'), (b"", b"\xff"), ready, (b"b", b'{"n":2}'), (b"c", b'{"n":3}')]
        assert pub._arrays(items) == [(b"", b"\xff"), ready, ([b"a", b"b"], b'[{"n":1},{"n":2}]'),
                                      ([b"c"], b'[{"n":3}]')]
        assert pub._arrays([ready]) == [ready]
    finally:
        pub.producer = None


def test_coordinates_take_no_arrays():
    pub = Publisher(KafkaConfig(bootstrap_servers="127.0.0.1:9", client={"log_level": 0}), track="coordinates")
    try:
        pub.publish({"logs": [([b"x"], b'[{"a":1}]')]})
    except ValueError as exc:
        assert "coordinates" in str(exc)
    else:
        raise AssertionError("an array went out under track='coordinates'")
    finally:
        pub.producer = None


def test_run_at_rate_publishes_a_tick_of_events_at_a_time():
    """At most one batch per tick, however fast the source: a batch of whatever was due
    whenever the last one was done held a few events at 60,000/s, and so did the arrays."""
    from collectors.publisher import run_at_rate

    class Counting:
        def __init__(self):
            self.batches: list[int] = []

        def publish(self, batch):
            self.batches.append(batch)

    def make_batch(n: int) -> int:
        time.sleep(0.002)  # a source that takes a while: the old loop never slept then
        return n

    pub = Counting()
    elapsed = run_at_rate(make_batch, pub, 60_000, 0.5, tick_s=0.05)
    assert 0 < len(pub.batches) <= elapsed / 0.05 + 1
    assert sum(pub.batches) <= 60_000 * elapsed


def test_run_at_rate_publishes_what_fell_due_before_the_end():
    """A run ending between flushes publishes the events due by its end: `rate` x `seconds`."""
    from collectors.publisher import run_at_rate

    class Counting:
        def __init__(self):
            self.events = 0

        def publish(self, n):
            self.events += n

    pub = Counting()
    run_at_rate(lambda n: n, pub, 10_000, 0.35, tick_s=0.1)
    assert pub.events == 3_500


def test_run_at_rate_does_not_make_up_a_deficit_in_one_batch():
    """A source slower than the rate: every batch, the last one included, stays bounded."""
    from collectors.publisher import MAX_BATCH, run_at_rate

    batches: list[int] = []

    class Counting:
        def publish(self, n):
            batches.append(n)

    def slow(n: int) -> int:
        time.sleep(0.05)
        return n

    run_at_rate(slow, Counting(), 1_000_000, 0.3, tick_s=0.01)
    assert max(batches) <= MAX_BATCH
    assert sum(batches) < 300_000  # behind, as it was: the deficit is not published at the end
