"""Entry points of the long-lived stage processes (`sluice run --stage X`)."""

from __future__ import annotations

import logging

from sinks.clickhouse import ClickHouseSink
from sinks.clickhouse.http_endpoint import SqlEndpoint
from sluice.settings import Settings
from streams import metrics
from streams.ingest.routing import DetectFilter
from streams.ingest.worker import IngestWorker
from streams.runtime import Stopper
from streams.store import StoreWorker

log = logging.getLogger(__name__)
# Notifications per alert-topic partition read back at detect start-up (see
# streams.alerting.delivery): far more than a detect restart can leave unmarked.
RECENT_SENDS = 5000


def _metrics_port(settings: Settings, offset: int) -> int | None:
    return settings.metrics_port + offset if settings.metrics_port else None


def run_ingest(settings: Settings, worker_index: int = 0) -> None:
    stopper = Stopper()
    metrics.serve(_metrics_port(settings, 1 + worker_index))
    detect = DetectFilter(settings.detect.resolved_rules_path, settings.detect.rollup_window_s,
                          everything=not settings.detect.prefilter)
    worker = IngestWorker(settings.kafka, settings.ingest, worker_index, settings.windows, detect,
                          clock=settings.clock.now).start()
    log.info("ingest worker %d running against %s", worker_index, settings.kafka.bootstrap_servers)
    try:
        worker.run(stopper)
    finally:
        worker.close()


def run_sink(settings: Settings, sql_port: int | None = None) -> None:
    """The store: the only ClickHouse writer; in embedded mode it also serves SQL over HTTP."""
    stopper = Stopper()
    metrics.serve(_metrics_port(settings, 0))
    sink = ClickHouseSink(settings.clickhouse).start()
    endpoint = None
    if settings.clickhouse.embedded and sql_port is not None:
        endpoint = SqlEndpoint(sink.query, port=sql_port).start()
        log.info("SQL endpoint on %s", endpoint.url)
    worker = StoreWorker(settings.kafka, settings.store, sink).start()
    try:
        worker.run(stopper)
    finally:
        if endpoint is not None:
            endpoint.close()
        worker.close()


def run_detect(settings: Settings) -> None:
    """The faust detect app; it owns its loop and signal handling."""
    import faust

    from sinks.kafka import ensure_sluice_topics, ensure_topics
    from sinks.kafka_tail import assign_tail, read_until_end, reader
    from streams.alerting import AlertManager, SilenceStore, load_alerting_config
    from streams.alerting.delivery import RecentSends
    from streams.detect.app import build_app

    kafka = settings.kafka
    alerting = load_alerting_config(settings.detect.alerting_path)
    ensure_sluice_topics(kafka)
    ensure_topics(kafka, alerting.topics(kafka.topic_prefix))
    silences = SilenceStore()
    sent = RecentSends()
    consumer = reader(kafka)
    try:
        for msg in read_until_end(consumer, assign_tail(consumer, [kafka.topics.silences], None)):
            silences.apply(msg.key().decode(), msg.value())
        alert_topics = alerting.topics(kafka.topic_prefix)
        loaded = sent.load((m.topic(), dict(m.headers() or []).get("idempotency_key", b"").decode(),
                            m.timestamp()[1] / 1000)
                           for m in read_until_end(consumer, assign_tail(consumer, alert_topics, RECENT_SENDS)))
        log.info("detect: %d recent notification(s) read back from %s", loaded, ", ".join(alert_topics))
    finally:
        consumer.close()

    def manager(states, groups):
        return AlertManager(alerting, states, groups, silences, database=settings.clickhouse.database,
                            topic_prefix=kafka.topic_prefix)

    app = build_app(kafka, settings.detect, manager, silences, clock=settings.clock.now, sent=sent,
                    datadir=settings.data_dir / "detect")
    faust.Worker(app, loglevel="info").execute_from_commandline()
