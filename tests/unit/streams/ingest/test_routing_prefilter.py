"""The pre-filter decides what the detect stage sees: it must take every event some rule
of the event's source accepts (a rule never sees what it drops), and nothing else.
Checked on the demo's generator with its incidents, in C and in the Python reference,
and through the ingest worker's serialized items."""

from __future__ import annotations

import time

import orjson
import pytest

from collectors.incidents import default_incidents
from collectors.synthetic import SyntheticSource
from schemas import source
from schemas.topics import Topics
from sinks.kafka import KafkaConfig
from streams.detect import source_of
from streams.detect.loader import default_rules_path
from streams.ingest import routing
from streams.ingest.pipeline import IngestConfig, Ingestor
from streams.ingest.worker import IngestWorker


def _demo_batch():
    """Ingest's output for a demo batch with every incident's records in it."""
    topics = Topics()
    batch = SyntheticSource(seed=9, poison_every=0).batch(4000, 1_767_225_600.0)
    for inc in default_incidents():
        for stream, ev in inc.records:
            if stream in batch:
                batch[stream].append((b"", orjson.dumps({**ev, "ts": time.time()})))
    for line in ({"service": "settlement", "job": "settlement_batch", "status": "completed", "msg": "done"},
                 {"service": "edge", "tls": {"version": "TLSv1.0"}, "msg": "handshake"},
                 {"service": "edge", "tls": {"version": "TLSv1.3"}, "msg": "handshake"}):
        batch["logs"].append((b"", orjson.dumps({**line, "ts": time.time()})))
    records = [(v, topics.raw(s), p % 3, i) for s, items in batch.items() for p, (i, (_k, v)) in
               enumerate(enumerate(items))]
    return Ingestor(topics, IngestConfig()).process(records, time.time(), keep_events=True)


OUT = _demo_batch()


@pytest.mark.parametrize("accelerate", [False, True] if routing._routing is not None else [False])
def test_exactly_the_events_some_rule_accepts_are_wanted(accelerate):
    f = routing.DetectFilter(default_rules_path(), accelerate=accelerate)
    rules = f.ruleset.rules
    accepted = [i for i, ev in enumerate(OUT.events)
                if any(source_of(ev) in r.sources and r.accepts(ev) for r in rules)]
    assert f.wanted_positions(OUT.events) == accepted
    kinds = {OUT.events[i]["kind"] for i in accepted}
    assert kinds == {"security", "metric", "log"}  # logins, the canary's samples, two of the three lines


def test_the_worker_serializes_the_wanted_events_with_their_sources():
    worker = IngestWorker(KafkaConfig(bootstrap_servers="127.0.0.1:9"), IngestConfig(),
                          detect=routing.DetectFilter(default_rules_path()))
    positions = worker.detect.wanted_positions(OUT.events)
    items = [orjson.loads(i) for i in worker._detect_items(OUT)]
    assert len(items) == len(positions) > 100
    for i, item in zip(positions, items, strict=True):
        topic, partition, offset, index = OUT.event_sources[i]
        assert item.pop("_src") == [source.name(topic, partition), offset, index]
        assert item == orjson.loads(orjson.dumps({k: v for k, v in OUT.events[i].items() if k != "_src"}))
