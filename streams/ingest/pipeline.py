"""Ingest: raw record bytes -> canonical events (or dead letters with a reason).

Pure and in-memory: the Kafka loop around it lives in streams/ingest/worker.py, so the
same code serves the worker, `sluice process`, tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import DecodeError
from schemas.topics import Topics
from streams.ingest.normalize import normalize, stable_event_id

MAX_DLQ_PAYLOAD = 64 * 1024


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str = Field(default="sluice-ingest", description="consumer group of the ingest workers")
    batch_size: int = Field(default=10000, ge=1, description="max records consumed per batch")
    batch_timeout_s: float = Field(default=0.1, gt=0, description="max wait for a batch to fill")
    max_record_bytes: int = Field(default=1024 * 1024, ge=1024, description="larger records are dead-lettered as oversize")
    workers: int = Field(default=1, ge=1, description="ingest worker processes started by `sluice run`")


@dataclass
class IngestOutput:
    """What one batch produced: (key, value) pairs per output topic, and DLQ counts per reason."""

    by_topic: dict[str, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    def add(self, topic: str, key: bytes, value: bytes) -> None:
        bucket = self.by_topic.get(topic)
        if bucket is None:
            bucket = self.by_topic[topic] = []
        bucket.append((key, value))


def decode_json(value: bytes) -> dict:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in str(exc):
            raise DecodeError("invalid_utf8", str(exc)) from None
        raise DecodeError("decode_error", f"not JSON: {exc}") from None
    if type(obj) is not dict:
        raise DecodeError("schema_violation", f"expected a JSON object, got {type(obj).__name__}")
    return obj


class Ingestor:
    def __init__(self, topics: Topics, cfg: IngestConfig | None = None):
        self.topics = topics
        self.cfg = cfg or IngestConfig()
        self._out_topic = {t: topics.normalized(topics.stream_of(t)) for t in topics.raw_all}

    def process(self, records: list[tuple[bytes, str, int, int]], observed: float,
                keep_events: bool = False) -> IngestOutput:
        """records: (value, topic, partition, offset). Never raises on bad input."""
        out = IngestOutput()
        max_bytes = self.cfg.max_record_bytes
        dumps = orjson.dumps
        events = out.events
        for value, topic, partition, offset in records:
            stream = self.topics.stream_of(topic)
            try:
                if value is None:
                    raise DecodeError("decode_error", "record has no value (tombstone)")
                if len(value) > max_bytes:
                    raise DecodeError("oversize", f"{len(value)} bytes > {max_bytes}")
                ev = normalize(decode_json(value), stream, observed, (topic, partition, offset))
            except DecodeError as exc:
                self._dead_letter(out, exc.reason, exc.detail, value, topic, partition, offset, stream, observed)
                continue
            except Exception as exc:  # a normalizer bug must not kill the worker
                self._dead_letter(out, "internal_error", repr(exc)[:500], value, topic, partition, offset,
                                  stream, observed)
                continue
            out.add(self._out_topic[topic], f"{ev['tenant']}|{ev['service']}".encode(), dumps(ev))
            if keep_events:
                events.append(ev)
        return out

    def _dead_letter(self, out: IngestOutput, reason: str, detail: str, value: bytes | None, topic: str,
                     partition: int, offset: int, stream: str, observed: float) -> None:
        payload = (value or b"")[:MAX_DLQ_PAYLOAD].decode("utf-8", "replace")
        record = {
            "event_id": stable_event_id(topic, partition, offset), "ts": observed, "reason": reason,
            "detail": detail, "source_topic": topic, "source_partition": partition,
            "source_offset": offset, "kind": stream, "payload": payload,
        }
        out.add(self.topics.dlq, reason.encode(), orjson.dumps(record))
        out.dropped[reason] = out.dropped.get(reason, 0) + 1
