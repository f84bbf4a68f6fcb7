"""Guards are necessary conditions: whenever a guard rejects an item, the rule itself
must reject it too (checked over the whole library and varied traffic)."""

import time

import orjson

from collectors.incidents import default_incidents
from collectors.synthetic import SyntheticSource
from schemas.topics import Topics
from streams.detect import load_rules
from streams.detect.guards import passes, rule_guards
from streams.detect.loader import default_rules_path
from streams.ingest.pipeline import Ingestor


def _events() -> list[dict]:
    topics = Topics()
    batch = SyntheticSource(seed=5, poison_every=0).batch(6000)
    for inc in default_incidents():
        for stream, ev in inc.records:
            if stream not in batch:
                continue  # deployments go straight to the detect stage, not through ingest
            batch[stream].append((b"", orjson.dumps({**ev, "ts": time.time()})))
    records = [(v, topics.raw(s), 0, i) for s, items in batch.items() for i, (_k, v) in enumerate(items)]
    events = Ingestor(topics).process(records, time.time(), keep_events=True).events
    odd = [{**e, "category": "AUTHENTICATION"} for e in events if e.get("kind") == "security"][:50]
    logs = [e for e in events if e.get("kind") == "log"][:6]
    tls = [{"tls.version": v} for v in ("TLSv1", "tlsv1.1", "TLSv1.3", "")] + [{"tls": "on"}, {}]
    odd += [{**e, "attributes": {**e["attributes"], **extra}} for e, extra in zip(logs, tls, strict=True)]
    return events + odd + [{"kind": "metric", "name": "disk_used_ratio", "value": 0.95, "host": "h"},
                           {"kind": "security", "category": 7, "action": None}]


def test_a_guard_never_rejects_what_its_rule_accepts():
    events = _events()
    rules = load_rules(default_rules_path())
    guarded = [(rule_guards(r), r) for r in rules]
    assert sum(1 for g, _ in guarded if g) >= 10
    for guards, rule in guarded:
        for ev in events:
            if not passes(guards, ev):
                assert not rule.accepts(ev), (rule.id, ev)


def test_guards_reject_most_ordinary_traffic_for_narrow_rules():
    rules = {r.id: r for r in load_rules(default_rules_path())}
    disk = rule_guards(rules["sre.disk_almost_full"])
    assert not passes(disk, {"kind": "metric", "name": "http_request_duration_seconds"})
    assert passes(disk, {"kind": "metric", "name": "disk_used_ratio"})


def test_an_attribute_guard_reads_the_flat_attribute_map():
    rules = {r.id: r for r in load_rules(default_rules_path())}
    tls = rule_guards(rules["compliance.tls_downgrade"])
    assert [g[0] for g in tls] == [("attributes", "tls.version")]
    event = {"kind": "log", "service": "edge", "attributes": {"tls.version": "TLSv1.0"}}
    assert passes(tls, event)
    assert not passes(tls, {**event, "attributes": {"tls.version": "TLSv1.3"}})
    assert not passes(tls, {**event, "attributes": {"tls": "on"}})  # absent: no value can match
    assert passes(tls, {**event, "attributes": None})  # not a canonical event: the rule decides
