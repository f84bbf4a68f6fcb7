"""Ingest: raw record bytes -> canonical events (or dead letters with a reason).

Pure and in-memory: the Kafka loop around it lives in streams/ingest/worker.py, so the
same code serves the worker, `sluice process`, tests and benchmarks.

Per batch: one pre-check over all raw records (precheck.py) picks the few that may
hold a card number or a secret; then each record is decoded -> normalized ->
redacted exactly when picked (redact.py) -> hashed (configured fields) -> enriched ->
serialized. A masked card number raises a `card_number_detected` signal. Dead-letter
payloads are always redacted exactly. Nothing leaves `process()` unredacted.

Routing: an event goes to the normalized topic of its kind (sluice.logs,
sluice.metrics, sluice.security), which is the kind of the stream it arrived on,
except where the decoder knows better: CEF and recognised auth lines are security
events (see IngestConfig.auth_as_security), Prometheus pages and OTLP metrics are
metrics. Signals go to sluice.signals, dead letters to sluice.dlq.

Dead-letter reason codes (`dropped` counts, DeadLetter.reason):

| reason | meaning |
|---|---|
| decode_error | the bytes are not the (detected or configured) format; a tombstone (no value) |
| invalid_utf8 | the record is not valid UTF-8 |
| schema_violation | parsed, but cannot form a canonical event (JSON that is not an object, a metric without name or numeric value, a malformed OTLP batch) |
| empty | nothing to decode: empty or blank record, a scrape page or OTLP batch without samples |
| oversize | larger than IngestConfig.max_record_bytes |
| too_many_events | decodes to more than IngestConfig.max_events_per_record events |
| timestamp_out_of_range | event time before 2000 or over a day ahead, with IngestConfig.timestamps = "reject" (the default "flag" keeps the event with the observed time and `sluice.ts_flag`) |
| internal_error | a decoder or normalizer bug; the record is kept for replay |

A record that yields several events (Prometheus, OTLP, JSON arrays) lands as long
as one event does; the events that fail are counted in `skipped` by reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import orjson

from schemas import source
from schemas.errors import ConfigError, DecodeError
from schemas.events import KIND_OF_STREAM
from schemas.ids import signal_id
from schemas.ids import stable_event_id as dead_letter_id
from schemas.topics import STREAMS, Topics
from streams.ingest import decoders
from streams.ingest.config import EnrichmentConfig, IngestConfig, RedactionConfig, RedactionPattern
from streams.ingest.decoders import otlp
from streams.ingest.decoders.base import DecodeContext
from streams.ingest.enrich import Enricher
from streams.ingest.hotloop import batch_loop, deliverer
from streams.ingest.jsonfast import JsonLogs
from streams.ingest.normalize import Normalizer
from streams.ingest.precheck import PreCheck
from streams.ingest.redact import Redactor, card_network
from streams.ingest.timeparse import TimeParser
from streams.runtime import gc_paused

__all__ = ["IngestConfig", "IngestOutput", "Ingestor", "RedactionConfig", "RedactionPattern", "EnrichmentConfig",
           "MAX_DLQ_PAYLOAD", "CARD_SIGNAL"]

log = logging.getLogger(__name__)
MAX_DLQ_PAYLOAD = 64 * 1024
CARD_SIGNAL = "card_number_detected"
_OTLP_KEYS = ("resourceLogs", "resourceMetrics")


@dataclass
class IngestOutput:
    """What one batch produced: (key, value, source) per output topic, and counts;
    source is the raw record's schemas.source reference (None for derived records).

    dropped: dead-lettered records per reason; skipped: events dropped from records
    that still landed, per reason; redacted: redactions per kind (events and DLQ
    payloads); events: the canonical events (only with keep_events=True)."""

    by_topic: dict[str, list[tuple[bytes, bytes, bytes | None]]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    # (topic, partition, offset, index in the record) of each event's raw record
    event_sources: list[tuple[str, int, int, int]] = field(default_factory=list)
    redacted: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, topic: str, key: bytes | None, value: bytes, src: bytes | None = None) -> None:
        bucket = self.by_topic.get(topic)
        if bucket is None:
            bucket = self.by_topic[topic] = []
        bucket.append((key, value, src))

    def merge(self, other: IngestOutput) -> None:
        """Add another batch's output to this one (records keep their order per topic)."""
        for topic, items in other.by_topic.items():
            bucket = self.by_topic.get(topic)
            if bucket is None:
                self.by_topic[topic] = list(items)
            else:
                bucket.extend(items)
        for mine, theirs in ((self.dropped, other.dropped), (self.redacted, other.redacted),
                             (self.skipped, other.skipped)):
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        self.events.extend(other.events)
        self.event_sources.extend(other.event_sources)


def _count(counter: dict, key: str, n: int = 1) -> None:
    counter[key] = counter.get(key, 0) + n


class Ingestor:
    def __init__(self, topics: Topics, cfg: IngestConfig | None = None):
        self.topics = topics
        self.cfg = cfg = cfg or IngestConfig()
        self.times = TimeParser(cfg.timezone, reject_out_of_range=cfg.timestamps == "reject")
        self.normalizer = Normalizer(self.times)
        self._kind_topic = {KIND_OF_STREAM[s]: topics.normalized(s) for s in STREAMS}
        red = cfg.redaction
        key = red.hash_key.get_secret_value().encode() if red.hash_key is not None else b""
        self.redactor = Redactor([(p.kind, p.regex, p.hint) for p in red.patterns], red.hash_fields, key,
                                 red.card_networks_only)
        try:
            self.precheck = PreCheck([(p.kind, p.regex, p.hint) for p in red.patterns])
        except Exception as exc:  # RE2 rejected a configured pattern
            raise ConfigError(f"a redaction pattern is not RE2-compatible, give it a hint: {exc}",
                              key="ingest.redaction.patterns") from None
        enr = cfg.enrichment
        self.enricher = Enricher(enr.services, enr.hosts, enr.reload_interval_s)
        for name, src in self.enricher.sources.items():
            if src.error:
                raise ConfigError(f"enrichment table {src.path} cannot be loaded: {src.error}",
                                  key=f"ingest.enrichment.{name}s")
        self._routes: dict[str, tuple] = {}
        self._json_logs = JsonLogs(self.times)
        self._deliver = deliverer()
        self._loop = batch_loop()

    def _route(self, topic: str) -> tuple:
        stream = self.topics.stream_of(topic)
        if stream not in KIND_OF_STREAM:
            stream = "logs"
        fmt = self.cfg.formats.get(topic) or self.cfg.formats.get(stream) or decoders.AUTO
        kind = KIND_OF_STREAM[stream]
        json_ok = fmt in (decoders.AUTO, "json")
        route = (stream, fmt, kind, self._kind_topic[kind], json_ok and kind == "log", json_ok)
        self._routes[topic] = route
        return route

    def process(self, records: list[tuple[bytes, str, int, int]], observed: float,
                keep_events: bool = False) -> IngestOutput:
        """records: (value, topic, partition, offset). Never raises on bad input."""
        if self.enricher.active:
            self.enricher.maybe_reload()
        with gc_paused(self.cfg.pause_gc):
            return self._process(records, observed, keep_events)

    def _process(self, records, observed: float, keep_events: bool) -> IngestOutput:
        out = IngestOutput()
        need = self._flags(records)
        ctx = DecodeContext(observed, self.times, auth_as_security=self.cfg.auth_as_security)
        one = self._record_handler(out, observed, keep_events, ctx)
        if self._loop is not None and not self.cfg.lineage and not self.redactor.hash_fields:
            # The common records of the batch in C; the others through `one`.
            self._loop(self, records, need, observed, out, out.events if keep_events else None, one, ctx)
        else:
            for record, flag in zip(records, need, strict=True):
                one(record, flag)
        return out

    def _flags(self, records) -> bytearray:
        """Per record: 0 clean, 1 may hold a card number, 2 may hold a secret too."""
        need = bytearray(len(records))
        try:
            maybe, secret = self.precheck.flagged([r[0] or b"" for r in records])
        except Exception:  # never skip redaction: without the pre-check, every record is checked
            log.exception("redaction pre-check failed; checking every record of the batch")
            maybe = secret = range(len(records))
        for i in maybe:
            need[i] = 1
        for i in secret:
            need[i] = 2
        return need

    def _record_handler(self, out: IngestOutput, observed: float, keep_events: bool, ctx: DecodeContext):
        """The per-record path of one batch, `one(record, flag)`: a closure, so that the
        names it reads every record are its own cells rather than attribute look-ups."""
        max_bytes = self.cfg.max_record_bytes
        loads = orjson.loads
        routes = self._routes
        fast = self._json_logs.event
        emit = self._emit
        events = out.events if keep_events else None

        def one(record: tuple, flag: int) -> None:
            value, topic, partition, offset = record
            route = routes.get(topic)
            if route is None:
                route = self._route(topic)
            stream, fmt, kind, dest, json_logs, json_ok = route
            if value is None:
                self._dead_letter(out, "decode_error", "record has no value (tombstone)", value, topic, partition,
                                  offset, stream, observed)
                return
            if len(value) > max_bytes:
                self._dead_letter(out, "oversize", f"{len(value)} bytes > {max_bytes}", value, topic, partition,
                                  offset, stream, observed)
                return
            if not json_ok or value[:1] != b"{":
                self._generic(out, value, topic, partition, offset, stream, fmt, kind, ctx, flag, events)
                return
            try:
                d = loads(value)
            except orjson.JSONDecodeError as exc:
                msg = str(exc)
                reason = "invalid_utf8" if "UTF-8" in msg or "surrogate" in msg else "decode_error"
                self._dead_letter(out, reason, f"not JSON: {msg[:300]}", value, topic, partition, offset, stream,
                                  observed)
                return
            if not json_logs:
                if "resourceLogs" not in d and "resourceMetrics" not in d:
                    # A JSON metric sample or security event: parsed once, normalized directly.
                    self._normalize_one(out, d, value, topic, partition, offset, stream, kind, observed, flag,
                                        events)
                else:
                    self._generic(out, value, topic, partition, offset, stream, fmt, kind, ctx, flag, events, d)
                return
            # The hot path: a JSON log record, one event (its C form: _hotloop.c).
            try:
                ev = fast(d, observed, topic, partition, offset, value.find(b"{", 1) < 0)
                if ev is not None:
                    emit(out, ev, dest, flag, events, (topic, partition, offset, 0))
            except Exception as exc:
                self._record_failed(out, exc, value, topic, partition, offset, stream, observed)
                return
            if ev is None:
                self._generic(out, value, topic, partition, offset, stream, fmt, kind, ctx, flag, events, d)

        return one

    def _record_failed(self, out: IngestOutput, exc: Exception, value: bytes, topic: str, partition: int,
                       offset: int, stream: str, observed: float) -> None:
        """A record whose event could not be built: a dead letter, never a dead worker."""
        self._settle(out, [_failure(exc)], 1, value, topic, partition, offset, stream, observed)

    def _normalize_one(self, out: IngestOutput, d, value: bytes, topic: str, partition: int, offset: int,
                       stream: str, kind: str, observed: float, flagged: int, events: list | None) -> None:
        coords = (topic, partition, offset, 0)
        try:
            # the same result as Normalizer.metric / .security, by the faster road
            ev = self._json_logs.kinds[kind].event(d, observed, topic, partition, offset)
            self._emit(out, ev, self._kind_topic[kind], flagged, events, coords)
        except Exception as exc:
            self._record_failed(out, exc, value, topic, partition, offset, stream, observed)

    def _emit(self, out: IngestOutput, ev: dict, dest: str, flagged: int, events: list | None,
              coords: tuple) -> None:
        if self.cfg.lineage:
            ev["attributes"]["sluice.source"] = f"{coords[0]}/{coords[1]}/{coords[2]}"
        if flagged:
            self._redact(out, ev, ev["observed_ts"], flagged)
        if self.redactor.hash_fields:
            self.redactor.hash_event(ev)
        self._deliver(self.enricher, out, ev, dest, events, coords)

    def _generic(self, out: IngestOutput, value: bytes, topic: str, partition: int, offset: int, stream: str,
                 fmt: str, stream_kind: str, ctx: DecodeContext, flagged: int, events: list | None,
                 parsed: dict | None = None) -> None:
        """Any record but a plain JSON object; `parsed`: an OTLP/JSON batch already parsed."""
        ctx.stream = stream
        observed = ctx.observed
        try:
            decoded = otlp.from_object(parsed, ctx) if parsed is not None else decoders.decode(value, fmt, ctx)
            if not decoded:
                raise DecodeError("empty", "record holds no events")
            if len(decoded) > self.cfg.max_events_per_record:
                raise DecodeError("too_many_events", f"{len(decoded)} events > {self.cfg.max_events_per_record}")
        except Exception as exc:  # a decoder bug must not kill the worker either
            self._record_failed(out, exc, value, topic, partition, offset, stream, observed)
            return
        failures: list[tuple[str, str]] = []
        for index, rec in enumerate(decoded):
            kind = rec.kind or stream_kind
            coords = (topic, partition, offset, index)
            try:
                if kind == "metric":
                    # the same result as Normalizer.metric, by the faster road
                    ev = self._json_logs.kinds["metric"].event(rec.fields, observed, topic, partition, offset,
                                                               rec.attributes, index, rec.labels)
                elif kind == "log":
                    # the same result as Normalizer.log, by the faster road
                    ev = self._json_logs.event(rec.fields, observed, topic, partition, offset, False,
                                               rec.attributes, index)
                    if ev is None:
                        ev = self.normalizer.log(rec.fields, observed, coords, rec.attributes)
                else:  # security, as Normalizer.security gives it
                    ev = self._json_logs.kinds[kind].event(rec.fields, observed, topic, partition, offset,
                                                           rec.attributes, index)
                self._emit(out, ev, self._kind_topic[kind], flagged, events, coords)
            except Exception as exc:  # a normalizer bug must not kill the worker
                failures.append(_failure(exc))
        if failures:
            self._settle(out, failures, len(decoded), value, topic, partition, offset, stream, observed)

    def _settle(self, out: IngestOutput, failures: list[tuple[str, str]], n: int, value: bytes, topic: str,
                partition: int, offset: int, stream: str, observed: float) -> None:
        """A record of n events of which some failed: a dead letter when all did, else
        the failed ones are counted as skipped."""
        if len(failures) == n:
            reason, detail = failures[0]
            if reason == "non_finite_value":
                reason = "schema_violation"
            self._dead_letter(out, reason, detail, value, topic, partition, offset, stream, observed)
        else:
            for reason, _ in failures:
                _count(out.skipped, reason)

    def _redact(self, out: IngestOutput, ev: dict, observed: float, level: int) -> None:
        finding = self.redactor.event(ev) if level == 2 else self.redactor.cards(ev)
        for kind, n in finding.counts.items():
            _count(out.redacted, kind, n)
        if finding.cards:
            self._card_signal(out, ev, finding.cards, observed)

    def _card_signal(self, out: IngestOutput, ev: dict, cards: list[tuple[str, str]], observed: float) -> None:
        fields = list(dict.fromkeys(where for where, _ in cards))
        signal = {
            "kind": "signal", "signal": CARD_SIGNAL, "signal_id": signal_id(ev["event_id"], CARD_SIGNAL),
            "ts": ev["ts"], "observed_ts": observed, "tenant": ev["tenant"], "service": ev["service"],
            "env": ev["env"], "host": ev["host"], "event_id": ev["event_id"], "source_kind": ev["kind"],
            "attributes": {"field": cards[0][0], "masked": cards[0][1], "count": str(len(cards)),
                           "fields": ",".join(fields), "network": card_network(cards[0][1])},
        }
        out.add(self.topics.signals, f"{ev['tenant']}|{ev['service']}".encode(), orjson.dumps(signal))

    def _dead_letter(self, out: IngestOutput, reason: str, detail: str, value: bytes | None, topic: str,
                     partition: int, offset: int, stream: str, observed: float) -> None:
        payload, finding = self.redactor.payload(_truncate((value or b"").decode("utf-8", "replace")))
        if len(payload) > MAX_DLQ_PAYLOAD:
            # A number cut in half at the end is neither useful nor safe to keep.
            payload = payload[:MAX_DLQ_PAYLOAD].rstrip("0123456789 -")
        detail = self.redactor.text(detail, finding, "detail")
        for kind, n in finding.counts.items():
            _count(out.redacted, kind, n)
        record = {
            "event_id": dead_letter_id(topic, partition, offset), "ts": observed, "reason": reason,
            "detail": detail, "source_topic": topic, "source_partition": partition,
            "source_offset": offset, "kind": stream, "payload": payload,
        }
        out.add(self.topics.dlq, reason.encode(), orjson.dumps(record), source.ref(topic, partition, offset))
        _count(out.dropped, reason)


def _failure(exc: Exception) -> tuple[str, str]:
    """(reason, detail) of an event that could not be built."""
    if isinstance(exc, DecodeError):
        return exc.reason, exc.detail
    return "internal_error", repr(exc)[:500]  # a bug


def _truncate(text: str) -> str:
    """Enough of a payload to redact before cutting it to MAX_DLQ_PAYLOAD (a card
    number straddling the cut must be seen whole to be masked)."""
    return text[:MAX_DLQ_PAYLOAD + 256]
