"""The demo's incident script, played offline through the real ingest, window
aggregation and rule engine on a simulated platform clock: each incident raises its
rule's alert and resolves within the scenario; normal traffic raises none."""

import orjson

from collectors.incidents import OUTAGE_PROVIDER, SCENARIO_S, IncidentScript, default_incidents
from collectors.synthetic import SyntheticSource
from schemas.topics import Topics
from streams.aggregate import WindowAggregator, WindowConfig
from streams.detect import Engine, load_rules
from streams.detect.loader import default_rules_path
from streams.ingest.pipeline import Ingestor

T0 = 1_800_000_000.0
STEP_S = 2.0  # platform seconds between simulated collector batches


def _play(script: IncidentScript, per_step: int, seconds: float = SCENARIO_S):
    """Publish-side traffic as ingest sees it: yields (platform time, canonical events,
    items straight for detection: deployments and ingest's signals) per batch."""
    topics = Topics()
    ingestor = Ingestor(topics)
    source = SyntheticSource(seed=5, poison_every=0)
    t = 0.0
    while t < seconds:
        now = T0 + t
        batch = source.batch(per_step, now, script.alteration(t))
        for stream, items in script.due(t, now).items():
            batch.setdefault(stream, []).extend(items)
        deployments = [orjson.loads(v) for _k, v in batch.pop("deployments", [])]
        records = [(v, topics.raw(s), 0, i) for s, items in batch.items() for i, (_k, v) in enumerate(items)]
        out = ingestor.process(records, now, keep_events=True)
        signals = [orjson.loads(v) for _k, v, _src in out.by_topic.get(topics.signals, [])]
        yield now, out.events, deployments + signals
        t += STEP_S


def test_the_script_schedules_in_platform_time_and_skips_what_does_not_fit():
    short = IncidentScript(600.0)
    assert {i.name for i in short.incidents} == set()
    assert len(short.skipped) == 4
    full = IncidentScript(SCENARIO_S)
    assert full.expected_rules == {"deployments.canary_fail", "payments.provider_failure_ratio",
                                   "compliance.card_number_in_logs", "security.ssh_brute_force",
                                   "security.success_after_failures"}
    assert full.due(29.0, T0) == {}
    first = full.due(30.0, T0 + 30)
    assert list(first) == ["deployments"] and orjson.loads(first["deployments"][0][1])["kind"] == "deployment"


def test_the_outage_fails_about_half_of_one_providers_payments_while_it_lasts():
    script = IncidentScript(SCENARIO_S)
    assert script.alteration(60.0) is None and script.alteration(400.0) is None
    alter = script.alteration(100.0)
    events = [{"service": "payments", "provider": p, "status": "authorized"} for p in ["adyen", OUTAGE_PROVIDER] * 500]
    for e in events:
        alter("logs", e)
    failed = [e for e in events if e["status"] == "failed"]
    assert {e["provider"] for e in failed} == {OUTAGE_PROVIDER}
    assert 200 < len(failed) < 300
    # the source builds only the events the outage may change as dicts for it
    assert alter is script.alteration(150.0)
    assert alter.may_change("logs", {"provider": OUTAGE_PROVIDER})
    assert not alter.may_change("logs", {"provider": "adyen"})
    assert not alter.may_change("metrics", {"labels": {"provider": OUTAGE_PROVIDER}})


def test_every_incident_fires_and_resolves_its_rule_and_normal_traffic_fires_nothing():
    script = IncidentScript(SCENARIO_S)
    engine = Engine(load_rules(default_rules_path()), strict=True)
    platform = [T0]
    aggregator = WindowAggregator(WindowConfig(), clock=lambda: platform[0])
    alerts = []
    for now, events, deployments in _play(script, per_step=100):
        platform[0] = now
        aggregator.add_batch(events)
        items = deployments + events + [p for p in aggregator.close_ready(now) if p["window_s"] == 60]
        for item in items:
            alerts.extend(engine.process(item, now))
        alerts.extend(engine.tick(now))
    statuses = sorted({(a["rule_id"], a["status"]) for a in alerts})
    assert statuses == sorted((r, s) for r in script.expected_rules for s in ("firing", "resolved")
                              if not (s == "resolved" and r != "payments.provider_failure_ratio")), statuses
    ratio = [a for a in alerts if a["rule_id"] == "payments.provider_failure_ratio"]
    assert [a["status"] for a in ratio] == ["firing", "resolved"]
    assert ratio[0]["labels"]["provider"] == OUTAGE_PROVIDER
    canary = next(a for a in alerts if a["rule_id"] == "deployments.canary_fail")
    assert canary["values"]["verdict"] == "fail" and canary["values"]["recommendation"] == "rollback"
    latency = next(m for m in canary["values"]["metrics"] if m["name"] == "latency")
    assert latency["verdict"] == "fail"
    assert all(a["ts"] - T0 <= i.settled_s for i in script.incidents for a in alerts if a["rule_id"] in i.expected_rules)


def test_default_incidents_cover_the_issue_list():
    names = " ".join(i.name for i in default_incidents())
    for words in ("provider outage", "canary", "card number", "brute force"):
        assert words in names
