"""The metric names every Sluice component reports (Prometheus), one set for all stages."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RECEIVED = Counter("sluice_records_received", "records consumed", ["stage", "topic"])
SENT = Counter("sluice_records_sent", "records produced or written", ["stage", "target"])
DROPPED = Counter("sluice_records_dropped", "records routed to the dead-letter queue, by reason", ["stage", "reason"])
REPLAYED = Counter("sluice_replayed_records", "records the store dropped because ingest wrote their raw source "
                   "twice (a transaction the broker showed after an abort or fence, then its replay)", ["topic"])
ERRORS = Counter("sluice_errors", "errors, by kind", ["stage", "kind"])
LATE = Counter("sluice_events_not_aggregated", "events kept in their table but left out of rollups, by reason "
               "(late: window already closed; future: clock too far ahead; invalid)", ["reason"])
BATCH_SECONDS = Histogram("sluice_batch_seconds", "time to process one batch", ["stage"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def serve(port: int | None) -> None:
    """Expose /metrics on `port` (None or 0: do not serve)."""
    if port:
        start_http_server(port, addr="127.0.0.1")
