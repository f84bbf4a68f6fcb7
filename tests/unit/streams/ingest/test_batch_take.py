"""How many raw records an ingest batch takes: about `batch_size` events' worth, since a
JSON array record holds many events (a backlog of arrays must not come as one batch of
millions of events)."""

from __future__ import annotations

from streams.ingest.worker import records_per_batch


def test_one_event_per_record_takes_the_batch_size():
    assert records_per_batch(10_000, 100, 100) == 10_000


def test_arrays_take_as_many_records_as_hold_the_batch_size_in_events():
    assert records_per_batch(10_000, 100, 10_000) == 100  # 100 events per record
    assert records_per_batch(10_000, 7, 20) == 3_500


def test_records_without_events_count_as_one_each_and_at_least_one_is_taken():
    assert records_per_batch(10_000, 50, 0) == 10_000  # dead letters only
    assert records_per_batch(10, 1, 100_000) == 1
