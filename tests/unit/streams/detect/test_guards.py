"""Guards are necessary conditions: whenever a guard rejects an item of a source, the
rule itself must reject it too (checked over the whole library and varied traffic)."""

import functools
import time

import orjson

from collectors.incidents import default_incidents
from collectors.synthetic import SyntheticSource
from schemas.topics import Topics
from streams.detect import load_rules, source_of
from streams.detect.guards import passes, rule_guards
from streams.detect.loader import default_rules_path
from streams.ingest.pipeline import Ingestor
from tests.unit.streams.detect.helpers import compile_rule


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


@functools.cache
def _library() -> dict:
    return {r.id: r for r in load_rules(default_rules_path())}


def test_a_guard_never_rejects_what_its_rule_accepts():
    events = _events()
    rules = _library().values()
    guarded = [(rule_guards(r, s), s, r) for r in rules for s in sorted(r.sources)]
    assert sum(1 for g, _, _ in guarded if g) >= 10
    canary_samples = [ev for ev in events if ev.get("labels", {}).get("deployment_group")]
    assert canary_samples  # the canary incident's samples: what the presence guard must let through
    for guards, source, rule in guarded:
        for ev in events:
            if source_of(ev) == source and not passes(guards, ev):
                assert not rule.accepts(ev), (rule.id, ev)


CANARY = """kind: canary
source: deployments
filter: service == "payments"
group_by: [service]
metrics:
  - {name: latency, filter: name == "http_request_duration_seconds", bad: increase}
  - {name: errors, filter: name == "http_error_ratio" and unit == "ratio", bad: increase}
"""


def test_a_canary_rules_guards_are_per_source():
    rule = compile_rule(CANARY)
    # the filter selects deployments; a sample needs a group and a metric's name
    assert rule_guards(rule, "deployments") == rule_guards(rule) == [("service", frozenset({"payments"}), False)]
    assert rule_guards(rule, "metrics") == [
        (("labels", "deployment_group"), None, False),
        ("name", frozenset({"http_request_duration_seconds", "http_error_ratio"}), False)]
    sample = {"kind": "metric", "service": "ledger", "name": "http_error_ratio", "unit": "ratio", "value": 0.1,
              "labels": {"deployment_group": "canary"}}
    assert rule.accepts(sample) and passes(rule_guards(rule, "metrics"), sample)
    for unlabelled in ({**sample, "labels": {}}, {**sample, "labels": {"deployment_group": ""}},
                       {**sample, "name": "queue_depth"}):
        assert not rule.accepts(unlabelled) and not passes(rule_guards(rule, "metrics"), unlabelled)
    deployment = {"kind": "deployment", "service": "payments", "version": "2"}
    assert rule.accepts(deployment) and passes(rule_guards(rule, "deployments"), deployment)
    assert not passes(rule_guards(rule, "deployments"), {**deployment, "service": "ledger"})


def test_a_presence_guard_rejects_only_null_absent_or_empty():
    top, flat = [("host", None, False)], [(("labels", "group"), None, False)]
    assert not passes(top, {}) and not passes(top, {"host": None}) and not passes(top, {"host": ""})
    assert passes(top, {"host": "h"}) and passes(top, {"host": 3})  # not a string: the rule decides
    assert not passes(flat, {"labels": {}}) and not passes(flat, {"labels": {"group": ""}})
    assert passes(flat, {"labels": {"group": "canary"}}) and passes(flat, {"labels": None})


def test_every_field_a_selection_requires_is_a_guard():
    rules = _library()
    sudo = rule_guards(rules["security.sudo_root_shell"])
    assert [g[0] for g in sudo] == ["env", "action", "outcome", "target"]
    login = rule_guards(rules["security.success_after_failures"])  # first OR then: both need each field
    assert login == [("category", frozenset({"authentication"}), True),
                     ("outcome", frozenset({"failure", "success"}), True)]


def test_guards_reject_most_ordinary_traffic_for_narrow_rules():
    rules = _library()
    disk = rule_guards(rules["sre.disk_almost_full"])
    assert not passes(disk, {"kind": "metric", "name": "http_request_duration_seconds"})
    assert passes(disk, {"kind": "metric", "name": "disk_used_ratio"})


def test_an_attribute_guard_reads_the_flat_attribute_map():
    rules = _library()
    tls = rule_guards(rules["compliance.tls_downgrade"])
    assert [g[0] for g in tls] == [("attributes", "tls.version")]
    event = {"kind": "log", "service": "edge", "attributes": {"tls.version": "TLSv1.0"}}
    assert passes(tls, event)
    assert not passes(tls, {**event, "attributes": {"tls.version": "TLSv1.3"}})
    assert not passes(tls, {**event, "attributes": {"tls": "on"}})  # absent: no value can match
    assert passes(tls, {**event, "attributes": None})  # not a canonical event: the rule decides
