"""Ingest's items for the detect stage carry the raw record they came from, so the
detect stage can skip the items of a batch ingest wrote twice (schemas/source.py)."""

from __future__ import annotations

import orjson

from schemas import source
from sinks.kafka import KafkaConfig
from streams.detect.loader import default_rules_path
from streams.ingest.pipeline import IngestConfig
from streams.ingest.routing import DetectFilter
from streams.ingest.worker import IngestWorker

NOW = 1_767_225_600.0


def test_every_detect_item_names_its_raw_record():
    # The producer is created but never used: no broker is needed.
    worker = IngestWorker(KafkaConfig(bootstrap_servers="127.0.0.1:9"), IngestConfig(),
                          detect=DetectFilter(default_rules_path(), everything=True))
    raw = worker.topics.raw("logs")
    prom = b"# TYPE q gauge\nq{a=\"1\"} 1\nq{a=\"2\"} 2\n"
    records = [
        (orjson.dumps({"ts": NOW - 5, "level": "error", "service": "payments", "msg": "declined"}), raw, 1, 40),
        (b"<38>Jan  1 00:00:00 bastion-01 sshd[7]: Failed password for root from 203.0.113.9 port 5 ssh2",
         raw, 1, 41),
        (prom, worker.topics.raw("metrics"), 0, 7),  # one record, two events
    ]
    out = worker.ingestor.process(records, NOW, keep_events=True)
    items = [orjson.loads(i) for i in worker._detect_items(out)]
    metrics = source.name(worker.topics.raw("metrics"), 0)
    assert [i["_src"] for i in items] == [
        [source.name(raw, 1), 40, 0], [source.name(raw, 1), 41, 0], [metrics, 7, 0], [metrics, 7, 1]]
