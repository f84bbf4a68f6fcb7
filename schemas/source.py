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

import struct
from collections.abc import MutableMapping

HEADER = "sluice.source"
# Offset and index first, fixed width: parsing is one unpack and a slice, per record.
_POSITION = struct.Struct(">QI")
_CACHE_LIMIT = 10_000  # raw partitions seen; a producer inventing names only empties them
_HEADS: dict[tuple[str, int], bytes] = {}
_NAMES: dict[bytes, str] = {}


def name(topic: str, partition: int) -> str:
    """The raw partition a source names: 'topic/partition'."""
    return f"{topic}/{partition}"


def ref(topic: str, partition: int, offset: int, index: int = 0) -> bytes:
    """The header value: offset and the event's index in the record (big-endian, 8 + 4
    bytes), then the raw partition's name."""
    head = _HEADS.get((topic, partition))
    if head is None:
        if len(_HEADS) >= _CACHE_LIMIT:
            _HEADS.clear()
        head = _HEADS[(topic, partition)] = name(topic, partition).encode()
    return _POSITION.pack(offset, index) + head


def parse(value: bytes) -> tuple[str, int, int]:
    """(raw partition name, offset, index) of a header value; ValueError if malformed."""
    if len(value) <= _POSITION.size:
        raise ValueError(f"a source reference is longer than {_POSITION.size} bytes")
    offset, index = _POSITION.unpack_from(value)
    head = value[_POSITION.size:]
    raw = _NAMES.get(head)
    if raw is None:
        if len(_NAMES) >= _CACHE_LIMIT:
            _NAMES.clear()
        raw = _NAMES[head] = head.decode()  # UnicodeDecodeError is a ValueError
    return raw, offset, index


class Marks:
    """The highest source seen per key (a key names an output partition and a raw
    partition, or a raw partition alone where there is one output partition)."""

    def __init__(self, table: MutableMapping | None = None):
        self.table = {} if table is None else table  # key -> (offset, index); a list after JSON

    def replayed(self, key, offset: int, index: int) -> bool:
        """True for a source at or below the key's mark (seen before); else it becomes the mark."""
        return self.first_fresh(key, (offset,), (index,)) == 1

    def first_fresh(self, key, offsets, indexes) -> int:
        """Of growing sources (offsets[i], indexes[i]), the position of the first above the
        key's mark (len(offsets) when none is); the last source becomes the mark."""
        n = len(offsets)
        start = 0
        last = self.table.get(key)
        if last is not None:
            mark = tuple(last)
            while start < n and (offsets[start], indexes[start]) <= mark:
                start += 1
        if start < n:
            self.table[key] = (offsets[-1], indexes[-1])
        return start
