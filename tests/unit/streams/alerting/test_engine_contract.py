"""Candidates from real library rules (via their own test cases) through the alert manager."""

from __future__ import annotations

from schemas.alerts import AlertMessage
from streams.detect.loader import load_path
from streams.detect.ruletest import run_case
from tests.unit.streams.alerting.conftest import ROOT, Harness


def _case_alerts(path: str) -> list[dict]:
    [loaded] = load_path(str(ROOT / "rules" / path)).rules
    return run_case(loaded, loaded.model.tests[0])


def test_ratio_rule_fires_and_resolves_through_the_payments_route(library_config):
    candidates = _case_alerts("payments/provider_failure_ratio.yaml")
    assert [c["status"] for c in candidates] == ["firing", "resolved"]
    h = Harness(library_config)
    notes = []
    for c in candidates:
        notes += h.send(c) + h.tick(c["ts"] + 5)
    notes += h.tick(candidates[-1]["ts"] + 120)
    msgs = [AlertMessage.model_validate_json(n.value) for n in notes]
    assert [m.status for m in msgs] == ["firing", "resolved"]
    assert all(n.topics == ["t.alerts.payments", "t.alerts"] for n in notes)
    fired = msgs[0]
    assert fired.labels["provider"] == "adyen" and fired.labels["domain"] == "payments"
    assert fired.starts_at == candidates[0]["starts_at"] and fired.values["ratio"] > 0.05
    assert "adyen" in fired.annotations.summary and fired.annotations.runbook_url.startswith("https://")
    assert msgs[1].ends_at == candidates[1]["ends_at"]


def test_pattern_rule_is_an_event_alert_with_its_evidence(library_config):
    [c] = _case_alerts("security/new_admin_account.yaml")
    h = Harness(library_config)
    [note] = h.send(c)  # security route: group_wait 0s
    msg = note.message
    assert (msg.status, msg.labels["target"], msg.evidence.event_ids) == ("firing", "eve", c["event_ids"])
    assert h.tick(c["ts"] + 299) == []
    [resolved] = h.tick(c["ts"] + 300)
    assert resolved.message.status == "resolved" and resolved.message.ends_at == c["ts"] + 300
