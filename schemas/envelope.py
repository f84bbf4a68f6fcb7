"""The detect topic's record format: a JSON array of items (events, rollup partials),
or one item alone (a timer tick, a record from an older producer).

Faust spends a few hundred microseconds of Python on every record it reads, many
times what a rule costs to evaluate an item, so ingest packs the items of one batch
into a few records. The detect topic has one partition, so the array keeps the
order in which ingest found the items.
"""

from __future__ import annotations

import orjson

MAX_ITEMS = 1000
MAX_BYTES = 512 * 1024  # well under Kafka's default 1 MB message limit


def pack(items: list[bytes], max_items: int = MAX_ITEMS, max_bytes: int = MAX_BYTES) -> list[bytes]:
    """Serialized items -> records of at most `max_items` items and about `max_bytes`
    (an item larger than that travels alone), in order."""
    records: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for item in items:
        if chunk and (len(chunk) >= max_items or size + len(item) > max_bytes):
            records.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 0
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        records.append(b"[" + b",".join(chunk) + b"]")
    return records


def unpack(value: bytes) -> list:
    """The items of a record (raises orjson.JSONDecodeError when it is not JSON)."""
    parsed = orjson.loads(value)
    return parsed if type(parsed) is list else [parsed]
