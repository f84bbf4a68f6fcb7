from __future__ import annotations

import random

from tests.unit.streams.detect.helpers import compile_rule, run

CANARY = """\
kind: canary
source: deployments
group_by: [service]
analysis: 10m
min_samples: 10
metrics:
  - {name: latency, filter: 'name == "latency"', bad: increase, effect: 0.3}
  - {name: errors, filter: 'name == "errors"', bad: increase, effect: 0.3}
alert_on: [fail, marginal, inconclusive]
"""


def deploy(ts=0.0, service="api", version="1.1"):
    return {"kind": "deployment", "ts": ts, "service": service, "version": version, "canary_group": "c",
            "baseline_group": "b", "event_id": f"d{ts}"}


def sample(name, group, value, ts, service="api"):
    return {"kind": "metric", "name": name, "service": service, "value": value, "ts": ts,
            "labels": {"deployment_group": group}}


def samples(name, group, center, n=30, start=1.0, seed=0):
    rng = random.Random(seed)
    return [sample(name, group, center * (1 + rng.uniform(-0.1, 0.1)), start + i) for i in range(n)]


def test_worse_latency_only_is_marginal_and_the_verdict_is_explained():
    rule = compile_rule(CANARY)
    items = ([deploy()] + samples("latency", "c", 150, seed=1) + samples("latency", "b", 100, seed=2)
             + samples("errors", "c", 1, seed=3) + samples("errors", "b", 1, seed=4) + [{"tick": 600.0}])
    state, alerts = run(rule, items)
    (alert,) = alerts
    values = alert["values"]
    assert (values["verdict"], values["score"], values["recommendation"]) == ("marginal", 50.0, "hold")
    latency, errors = values["metrics"]
    assert latency["verdict"] == "fail" and latency["delta"] == 1.0 and latency["p_value"] < 1e-6
    assert latency["n_canary"] == 30 and latency["canary_median"] > latency["baseline_median"]
    assert errors["verdict"] == "pass"
    assert (alert["starts_at"], alert["ts"], alert["event_ids"]) == (0.0, 600.0, ["d0.0"])
    assert state["last_verdict"] == {"verdict": "marginal", "score": 50.0, "version": "1.1", "at": 600.0}
    assert "analysis" not in state


def test_a_sample_after_the_analysis_window_closes_it():
    rule = compile_rule(CANARY.replace("alert_on: [fail, marginal, inconclusive]", "alert_on: [fail]"))
    items = ([deploy()] + samples("latency", "c", 300) + samples("latency", "b", 100, seed=5)
             + samples("errors", "c", 9) + samples("errors", "b", 1, seed=6) + [sample("errors", "b", 1, 601.0)])
    _, alerts = run(rule, items)
    assert [(a["values"]["verdict"], a["values"]["recommendation"], a["ts"]) for a in alerts] == [("fail", "rollback", 601.0)]


def test_no_samples_is_inconclusive_and_other_groups_are_ignored():
    rule = compile_rule(CANARY)
    items = [deploy()] + [sample("latency", "someone-else", 1.0, 5.0)] + [{"tick": 700.0}]
    _, alerts = run(rule, items)
    assert [(a["values"]["verdict"], a["values"]["score"]) for a in alerts] == [("inconclusive", None)]


def test_a_new_deployment_replaces_the_running_analysis():
    rule = compile_rule(CANARY)
    items = [deploy(0.0, version="1.1")] + samples("latency", "c", 300) + [deploy(100.0, version="1.2"), {"tick": 650.0}]
    state, alerts = run(rule, items)
    assert alerts == []  # 1.1 was superseded; 1.2 runs until 700
    _, alerts = rule.tick(state, 700.0)
    assert [(a["values"]["version"], a["values"]["verdict"]) for a in alerts] == [("1.2", "inconclusive")]


def test_samples_without_an_analysis_or_before_it_are_not_kept():
    rule = compile_rule(CANARY)
    state, _ = rule.evaluate(None, sample("latency", "c", 1.0, 5.0), 5.0)
    assert "samples" not in state
    state, _ = run(rule, [deploy(100.0), sample("latency", "c", 1.0, 50.0)], state)
    assert state["samples"] == {}


def test_routing_accepts_deployments_and_configured_samples_only():
    rule = compile_rule(CANARY)
    assert rule.sources == {"deployments", "metrics"}
    assert rule.accepts(deploy()) and rule.accepts(sample("latency", "c", 1, 1))
    assert not rule.accepts(sample("cpu", "c", 1, 1))
    assert not rule.accepts({"kind": "log", "ts": 1.0, "service": "api"})
