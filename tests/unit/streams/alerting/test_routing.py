"""The routing tree, the shipped config/alerting.yaml and config validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from schemas.errors import ConfigError
from streams.alerting import AlertingConfig, Router, load_alerting_config
from tests.unit.streams.alerting.conftest import ROOT, T0, Harness, candidate


def test_library_routes_by_team_and_always_reaches_the_main_topic(library_config):
    router = Router(library_config.route, prefix="sluice")
    cases = {
        "payments-settlement": ["sluice.alerts.payments", "sluice.alerts"],
        "security-operations": ["sluice.alerts.security", "sluice.alerts"],
        "sre": ["sluice.alerts"],
        "release-engineering": ["sluice.alerts"],
    }
    for team, topics in cases.items():
        route, found = router.route({"team": team, "rule_id": "x", "severity": "warning"})
        assert found == topics, team
    route, found = router.route({"team": "sre", "category": "security"})
    assert found == ["sluice.alerts.security", "sluice.alerts"] and route.name == "security-category"


def test_every_rule_owner_is_routed_to_its_team_topic(library_config):
    router = Router(library_config.route, prefix="p")
    for path in sorted((ROOT / "rules").rglob("*.yaml")):
        rule = yaml.safe_load(path.read_text())
        _, topics = router.route({"team": rule["owner"], "rule_id": rule["id"], "severity": rule["severity"]})
        assert topics[-1] == "p.alerts", path
        domain = rule["owner"].split("-")[0]
        if domain in ("payments", "security"):
            assert topics[0] == f"p.alerts.{domain}", path


def test_continue_false_stops_at_the_first_match_and_children_inherit():
    config = AlertingConfig.model_validate({"route": {
        "topics": ["{prefix}.alerts"], "group_wait": "7s",
        "routes": [
            {"name": "crit", "matchers": ["severity=critical"], "topics": ["{prefix}.page"],
             "routes": [{"name": "crit-pay", "matchers": ["team=~\"payments-.*\""], "group_by": ["provider"]}]},
            {"name": "pay", "matchers": ["team=~\"payments-.*\""], "topics": ["{prefix}.pay"]},
        ]}})
    router = Router(config.route, prefix="x")
    route, topics = router.route({"severity": "critical", "team": "payments-oncall"})
    assert (route.name, topics, route.group_by, route.group_wait) == ("crit-pay", ["x.page"], ("provider",), 7.0)
    route, topics = router.route({"severity": "warning", "team": "payments-oncall"})
    assert (route.name, topics) == ("pay", ["x.pay"])
    route, topics = router.route({"severity": "warning", "team": "sre"})
    assert (route.name, topics) == ("root", ["x.alerts"])
    assert config.topics("x") == ["x.alerts", "x.page", "x.pay"]


def test_notifications_go_to_every_routed_topic(library_config):
    h = Harness(library_config)
    [note] = h.send(candidate(rule_id="security.new_admin_account", team="security-operations",
                              group={"target": "root"}, lifecycle="event"))  # security: group_wait 0s
    assert note.topics == ["t.alerts.security", "t.alerts"]
    assert note.message.group_key == 'security:{rule_id="security.new_admin_account",tenant=""}'


def test_shipped_config_loads_with_its_inhibition_rules(library_config):
    assert library_config.route.repeat_interval == 4 * 3600 and library_config.resolve_after == 300
    assert [r.name for r in library_config.inhibit_rules] == ["provider-outage", "canary-failed", "volume-collapse"]


def test_canary_failure_inhibits_error_alerts_of_the_same_service(library_config):
    h = Harness(library_config)
    h.send(candidate(rule_id="deployments.canary_fail", team="release-engineering", group={"service": "checkout"},
                     lifecycle="event"))
    h.send(candidate(rule_id="sre.error_ratio_high", team="sre", severity="warning",
                     group={"series.service": "checkout"}, at=T0 + 1))
    h.send(candidate(rule_id="sre.disk_almost_full", team="sre", severity="warning", group={"host": "checkout"},
                     at=T0 + 1))
    sent = sorted(n.message.rule_id for n in h.tick(T0 + 10))
    assert sent == ["deployments.canary_fail", "sre.disk_almost_full"]


def test_config_errors_name_the_key(tmp_path: Path):
    bad = tmp_path / "alerting.yaml"
    bad.write_text("route:\n  routes:\n    - matchers: ['team=~\"(a+)+\"']\n      contnue: true\n")
    with pytest.raises(ConfigError) as err:
        load_alerting_config(bad)
    assert "route.routes.0.matchers" in str(err.value) and "route.routes.0.contnue" in str(err.value)
    bad.write_text("route:\n  topics: ['bad topic']\n")
    with pytest.raises(ConfigError, match="route.topics"):
        load_alerting_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_alerting_config(tmp_path / "missing.yaml")
