"""Stable ids derived from source coordinates, so that a replayed record yields the
same ids and ClickHouse can drop the duplicates.

An id is UUID-shaped: 60 bits of a hash of (topic, partition), then the index of
the event within its record (16 bits) and the offset (48 bits) in plain hex. Within
one partition the ids are therefore distinct by construction (no collision
probability), and formatting one costs a dict lookup and an f-string instead of a
hash per event. Coordinates outside those widths fall back to a full hash.
"""

from __future__ import annotations

import hashlib

_PREFIX: dict[tuple[str, int], str] = {}
_PREFIX0: dict[tuple[str, int], str] = {}
_MAX_OFFSET = 0xFFFFFFFFFFFF
_MAX_INDEX = 0xFFFF


def _prefix(topic: str, partition: int) -> str:
    h = hashlib.blake2b(f"{topic}/{partition}".encode(), digest_size=8).hexdigest()
    p = _PREFIX[(topic, partition)] = f"{h[:8]}-{h[8:12]}-8{h[12:15]}-"
    return p


def stable_event_id(topic: str, partition: int, offset: int, index: int = 0) -> str:
    """The id of event `index` of the record at (topic, partition, offset)."""
    if 0 <= offset <= _MAX_OFFSET and 0 <= index <= _MAX_INDEX:
        # int.to_bytes().hex() costs half of a format spec ("{:012x}"), and this runs per event.
        if index == 0:
            p = _PREFIX0.get((topic, partition))
            if p is None:
                p = _PREFIX0[(topic, partition)] = (_PREFIX.get((topic, partition)) or _prefix(topic, partition)) + "0000-"
            return p + offset.to_bytes(6, "big").hex()
        p = _PREFIX.get((topic, partition))
        if p is None:
            p = _prefix(topic, partition)
        return f"{p}{index.to_bytes(2, 'big').hex()}-{offset.to_bytes(6, 'big').hex()}"
    h = hashlib.blake2b(f"{topic}/{partition}/{offset}/{index}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-9{h[13:16]}-{h[16:20]}-{h[20:]}"


def signal_id(source_event_id: str, signal: str) -> str:
    """Id of a signal raised by one event: one signal of each kind per event."""
    h = hashlib.blake2b(f"{source_event_id}/{signal}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{h[16:20]}-{h[20:]}"
