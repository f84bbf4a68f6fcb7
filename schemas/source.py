"""Where a record on an output topic of ingest came from: the raw record it was read from.

Ingest puts it in a Kafka header of every event and dead letter it writes; the store
keeps it in the `_source*` columns and drops a record whose source it has already
stored for that output partition (streams/store.py). The reason: Kafka hides the
records of an aborted or fenced transaction from read_committed consumers, but not
every Kafka-protocol broker does (the embedded Tansu broker only holds back open
transactions), and ingest writes such a batch again after the abort or restart.
Within one output partition the sources of one raw partition only grow: one ingest
worker owns a raw partition at a time and writes its records in offset order.
"""

from __future__ import annotations

HEADER = "sluice.source"


def ref(topic: str, partition: int, offset: int, index: int = 0) -> bytes:
    """The header value: raw topic, partition, offset and the event's index in the record."""
    return b"%s/%d/%d/%d" % (topic.encode(), partition, offset, index)


def parse(value: bytes) -> tuple[str, int, int]:
    """(raw 'topic/partition', offset, index) of a header value; ValueError if malformed."""
    head, offset, index = value.rsplit(b"/", 2)
    return head.decode(), int(offset), int(index)
