"""Where every canonical event leaves ingest, and the per-record loop of a batch.

`deliver` ends the way of every event of every format: enrich it, serialize it
(`serialize`: orjson's bytes, exactly sized) and add it to the batch output under its
topic, keyed `tenant|service`, with its source reference (schemas/source.py).

`_hotloop.c` (built when a compiler is at hand) has the same `deliver` in C, and `run`:
the per-record loop of `Ingestor._process`, with no interpreter between parse (or the
C text decoders), event, enrichment, serialization and output for the bulk of the
traffic: JSON objects (logs, metric samples, security events), JSON arrays of them (each
element read from its bytes as an object record is, its index its place) and the usual
text lines (syslog, logfmt, access). A record off that road (a parse or decoder error, an OTLP
batch) goes through the Python per-record path unchanged, so the Python code stays the
reference. SLUICE_PURE_PYTHON=1 turns it off.
"""

from __future__ import annotations

import orjson

from schemas import source
from streams.ingest import accel

_hotloop = accel.load("_hotloop")
_eventjson = accel.load("_eventjson")


def _exact_dumps(ev: dict) -> bytes:
    """orjson.dumps(ev) in a bytes of its exact size. orjson sizes its output buffer
    generously; the copy keeps a batch of 10,000 events at ~5 MB instead of ~40 MB, and
    spares the page faults of growing and trimming the heap on every batch."""
    return b"".join((orjson.dumps(ev), b""))


# How every event is serialized: `_eventjson.dumps` (C) writes orjson's very bytes into an
# exact-size bytes ~1.2x faster than orjson, and needs no copy.
serialize = _eventjson.dumps if _eventjson is not None and accel.wanted() else _exact_dumps
# `serialize(dict(zip(keys, values)))` with no dict built, for the batch loop's events kept
# as field values (_jsonlog.c fields mode); None: the loop builds every event's dict.
serialize_fields = _eventjson.dumps_fields if serialize is not _exact_dumps else None


def deliver(enricher, out, ev: dict, dest: str, events: list | None, coords: tuple) -> None:
    """Enrich `ev`, then add (key, JSON, source) to `out` under `dest`; with `events`,
    keep the event and its coordinates (topic, partition, offset, index) too."""
    if enricher.active:
        enricher.apply(ev)
    out.add(dest, f"{ev['tenant']}|{ev['service']}".encode(), serialize(ev), source.ref(*coords))
    if events is not None:
        events.append(ev)
        out.event_sources.append(coords)


def accelerated() -> bool:
    return _hotloop is not None and accel.wanted()


def deliverer():
    """`deliver`, in C when it is built."""
    return _hotloop.deliver if accelerated() else deliver


def batch_loop():
    """`run(ingestor, records, need, observed, out, events, one)` in C, or None."""
    return _hotloop.run if accelerated() else None
