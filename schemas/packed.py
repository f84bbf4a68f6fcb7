"""The normalized topics' record format: one or more events of one key, as
newline-delimited JSON, with each event's raw source in a header.

A Kafka record per event costs every stage a fixed amount (a produce call and a
source header in ingest, a message object and a Python loop step in the store, a
record in the broker) that is several times what carrying the event's bytes costs.
So ingest packs the events of a batch that share a partition key and came from the
same raw partition into records of up to MAX_EVENTS events. A record holding one
event is that event's JSON object alone, as before; a longer one is JSON Lines,
which ClickHouse's Kafka engine (JSONEachRow), Vector (newline-delimited framing)
and a `for line in value.splitlines()` all read. JSON text never holds a raw
newline, so the separator cannot occur inside an event.

The sources header (SOURCES) carries what schemas.source's header carries for one
event, for all of them: the count, then offset and index per event (big-endian,
8 + 4 bytes, in the order of the lines), then the raw partition's name. Within a
record the sources grow, so the store compares a record's first and last source
with its marks and looks at single events only when a record straddles a mark.
"""

from __future__ import annotations

import struct

from schemas import source
from streams.ingest import accel  # importlib and os only: not the ingest pipeline

SOURCES = "sluice.sources"
MAX_EVENTS = 1000
MAX_BYTES = 512 * 1024  # well under Kafka's default 1 MB message limit
_COUNT = struct.Struct(">I")
_POSITION = 12  # bytes of one (offset, index) in a schemas.source reference
_UNPACKERS: dict[int, struct.Struct] = {}
_packed = accel.load("_packed")  # streams/ingest/_packed.c; None when not built


def pack(items: list[tuple[bytes | None, bytes, bytes | None]]) -> list[tuple[bytes | None, bytes, list | None]]:
    """(key, event JSON, schemas.source reference) triples of one topic -> (key, value,
    headers) records, keeping the order of the events of each key and raw partition.
    An event without a source travels alone, with no header.

    In C (streams/ingest/_packed.c) where it is built, with records equal to those of
    _pack_python. The C takes only (None or bytes, bytes, None or bytes) tuples in a list
    or tuple and raises TypeError for anything else, ValueError for a source shorter than
    its position, before it consumes anything; _pack_python then decides what such input
    gives (a list as an item is fine, a short source packs with an empty name)."""
    if _packed is not None and accel.wanted():
        try:
            return _packed.pack(items, MAX_EVENTS, MAX_BYTES, source.HEADER, SOURCES)
        except (TypeError, ValueError):
            pass
    return _pack_python(items, MAX_EVENTS, MAX_BYTES)


def _pack_python(items, max_events: int | None = None, max_bytes: int | None = None) -> list:
    """pack in Python, the reference of the C version; the limits default to MAX_EVENTS
    and MAX_BYTES."""
    max_events = MAX_EVENTS if max_events is None else max_events
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    groups: dict[tuple[bytes | None, bytes], tuple[list[bytes], list[bytes]]] = {}
    records: list[tuple[bytes | None, bytes, list | None]] = []
    for key, value, src in items:
        if src is None:
            records.append((key, value, None))
            continue
        at = (key, src[_POSITION:])
        group = groups.get(at)
        if group is None:
            group = groups[at] = ([], [])
        group[0].append(value)
        group[1].append(src)
    for (key, name), (values, refs) in groups.items():
        start, size = 0, 0
        for i, value in enumerate(values):
            if i > start and (i - start >= max_events or size + len(value) > max_bytes):
                records.append(_record(key, name, values[start:i], refs[start:i]))
                start, size = i, 0
            size += len(value) + 1
        records.append(_record(key, name, values[start:], refs[start:]))
    return records


def _record(key: bytes | None, name: bytes, values: list[bytes], refs: list[bytes]) -> tuple:
    if len(values) == 1:
        return key, values[0], [(source.HEADER, refs[0])]
    header = _COUNT.pack(len(refs)) + b"".join([r[:_POSITION] for r in refs]) + name
    return key, b"\n".join(values), [(SOURCES, header)]


def sources(header: bytes) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """(raw partition name, offsets, indexes) of a SOURCES header; ValueError if malformed."""
    if len(header) < _COUNT.size:
        raise ValueError("a sources header is shorter than its count")
    (n,) = _COUNT.unpack_from(header)
    end = _COUNT.size + n * _POSITION
    if n == 0 or len(header) <= end:
        raise ValueError(f"a sources header of {n} events holds {len(header)} bytes")
    unpacker = _UNPACKERS.get(n)
    if unpacker is None:
        unpacker = struct.Struct(">" + "QI" * n)
        if len(_UNPACKERS) < MAX_EVENTS + 1:
            _UNPACKERS[n] = unpacker
    flat = unpacker.unpack_from(header, _COUNT.size)
    return header[end:].decode(), flat[0::2], flat[1::2]  # UnicodeDecodeError is a ValueError


def events_in(headers: list | None) -> int:
    """How many events a normalized record holds, from its headers."""
    for key, value in headers or ():
        if key == SOURCES and len(value) >= _COUNT.size:
            return _COUNT.unpack_from(value)[0]
    return 1
