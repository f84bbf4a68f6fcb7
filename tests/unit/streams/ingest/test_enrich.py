from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson
import pytest

from schemas.errors import ConfigError
from schemas.topics import Topics
from streams.ingest.enrich import Enricher, load_table
from streams.ingest.pipeline import IngestConfig, Ingestor

ROOT = Path(__file__).resolve().parents[4]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _event(service: str = "payments-api", host: str = "pay-01", env: str = "", **attrs) -> dict:
    return {"service": service, "host": host, "env": env, "attributes": dict(attrs)}


def _touch(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_example_tables_load():
    services = load_table(ROOT / "config/enrichment/services.yaml", "service")
    hosts = load_table(ROOT / "config/enrichment/hosts.csv", "host")
    assert ("payments-api", {"team": "payments", "owner": "payments-oncall@example.com", "tier": "1"}) in services
    assert ("pay-*", {"env": "prod", "region": "eu-west-1", "rack": "r12"}) in hosts


def test_apply_fills_env_adds_attributes_and_never_overwrites():
    e = Enricher(ROOT / "config/enrichment/services.yaml", ROOT / "config/enrichment/hosts.csv")
    ev = _event(team="from-the-source")
    e.apply(ev)
    assert ev["env"] == "prod"
    assert ev["attributes"] == {"team": "from-the-source", "owner": "payments-oncall@example.com", "tier": "1",
                                "region": "eu-west-1", "rack": "r12"}
    staging = _event(service="nobody", host="pay-02", env="staging")
    e.apply(staging)
    assert staging["env"] == "staging" and staging["attributes"]["region"] == "eu-west-1"
    unknown = _event(service="nobody", host="elsewhere")
    e.apply(unknown)
    assert unknown == _event(service="nobody", host="elsewhere")


def test_exact_keys_win_over_globs_and_globs_match_in_order(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n  - {host: 'web-*', region: glob}\n  - {host: web-01, region: exact}\n"
                     "  - {host: 'w*', region: later-glob}\n")
    e = Enricher(hosts=hosts)
    a, b = _event(host="web-01"), _event(host="web-99")
    e.apply(a)
    e.apply(b)
    assert (a["attributes"]["region"], b["attributes"]["region"]) == ("exact", "glob")


def test_hot_reload_after_the_interval_only(tmp_path):
    services = tmp_path / "services.csv"
    _touch(services, "service,team\npayments-api,old\n", 100)
    clock = Clock()
    e = Enricher(services=services, reload_interval_s=10, clock=clock)
    _touch(services, "service,team\npayments-api,new\n", 200)
    assert e.maybe_reload() is False                 # interval not yet passed
    ev = _event()
    e.apply(ev)
    assert ev["attributes"]["team"] == "old"
    clock.now += 10
    assert e.maybe_reload() is True
    ev = _event()
    e.apply(ev)
    assert ev["attributes"]["team"] == "new"
    clock.now += 10
    memo = e._memo
    assert e.maybe_reload() is False                 # unchanged file: nothing reloaded
    assert e._memo is memo and memo                  # and what was resolved stays resolved
    clock.now += 5
    assert e.maybe_reload() is False                 # the next check waits the interval again
    _touch(services, "service,team\npayments-api,newer\n", 300)
    assert e.maybe_reload() is False
    clock.now += 5
    assert e.maybe_reload() is True


def test_broken_file_on_reload_keeps_the_old_table_and_logs(tmp_path, caplog):
    services = tmp_path / "services.yaml"
    _touch(services, "payments-api: {team: payments}\n", 100)
    clock = Clock()
    e = Enricher(services=services, reload_interval_s=1, clock=clock)
    _touch(services, "payments-api: {team: [unclosed\n", 200)
    clock.now += 5
    with caplog.at_level(logging.ERROR, logger="streams.ingest.enrich"):
        assert e.maybe_reload() is False
    assert "keeping the previous one" in caplog.text
    ev = _event()
    e.apply(ev)
    assert ev["attributes"]["team"] == "payments"
    _touch(services, "payments-api: {team: fixed}\n", 300)
    clock.now += 5
    assert e.maybe_reload() is True
    ev = _event()
    e.apply(ev)
    assert ev["attributes"]["team"] == "fixed"


@pytest.mark.parametrize(("name", "text"), [("t.csv", "service,team\na,b,c\n"), ("t.yaml", "- just a string\n"),
                                            ("t.yaml", "a: [1, 2]\n"), ("t.csv", "")])
def test_malformed_tables_fail_at_start_up_naming_the_key(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        Ingestor(Topics(), IngestConfig(enrichment={"services": path}))
    assert "ingest.enrichment.services" in str(exc.value)


def test_missing_table_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as exc:
        IngestConfig(enrichment={"hosts": tmp_path / "nope.csv"})
    assert exc.value.key == "ingest.enrichment.hosts"


def test_enrichment_in_the_pipeline(tmp_path):
    cfg = IngestConfig(enrichment={"services": ROOT / "config/enrichment/services.yaml",
                                   "hosts": ROOT / "config/enrichment/hosts.csv"})
    topics = Topics()
    out = Ingestor(topics, cfg).process(
        [(orjson.dumps({"service": "card-vault", "host": "gw-03", "msg": "x"}), topics.raw("logs"), 0, 0)],
        1767225610.0, keep_events=True)
    ev = out.events[0]
    assert ev["env"] == "prod" and ev["attributes"]["team"] == "security" and ev["attributes"]["pci_scope"] == "true"
    assert orjson.loads(out.by_topic["sluice.logs"][0][1])["attributes"]["region"] == "eu-central-1"
