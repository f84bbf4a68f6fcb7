from pathlib import Path

import pytest

from schemas.errors import ConfigError
from sluice.settings import load_settings


def test_defaults_mean_embedded_stack(monkeypatch):
    monkeypatch.delenv("SLUICE_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    s = load_settings(data_dir=Path("/tmp/x"))
    assert s.kafka.bootstrap_servers is None and s.clickhouse.embedded
    assert s.clickhouse.data_dir == Path("/tmp/x/clickhouse")


def test_environment_and_yaml_and_overrides_combine(monkeypatch, tmp_path):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text("kafka:\n  partitions: 8\nclickhouse:\n  ttl_days: 7\n")
    monkeypatch.setenv("SLUICE_KAFKA__BOOTSTRAP_SERVERS", "k1:9092")
    s = load_settings(cfg, **{"ingest.workers": 2})
    assert (s.kafka.bootstrap_servers, s.kafka.partitions, s.clickhouse.ttl_days, s.ingest.workers) == (
        "k1:9092", 8, 7, 2)


def test_unknown_key_fails_fast_naming_it(tmp_path):
    cfg = tmp_path / "sluice.yaml"
    cfg.write_text("kafka:\n  partitons: 8\n")
    with pytest.raises(ConfigError, match="kafka.partitons"):
        load_settings(cfg)


def test_bad_value_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="clickhouse.database"):
        load_settings(**{"clickhouse.database": "drop table; --"})


def test_password_is_not_printed():
    s = load_settings(**{"clickhouse.password": "hunter2"})
    assert "hunter2" not in repr(s) and s.clickhouse.password.get_secret_value() == "hunter2"


def test_consumer_groups_follow_the_topic_prefix_unless_set():
    s = load_settings(**{"kafka.topic_prefix": "acme"})
    assert (s.ingest.group, s.store.group) == ("acme-ingest", "acme-store")
    assert (load_settings().ingest.group, load_settings().store.group) == ("sluice-ingest", "sluice-store")
    s = load_settings(**{"kafka.topic_prefix": "acme", "store.group": "shared-store"})
    assert (s.ingest.group, s.store.group) == ("acme-ingest", "shared-store")


def test_rules_must_read_a_window_size_ingest_closes():
    with pytest.raises(ConfigError, match=r"detect.rollup_window_s = 10 is not one of windows.window_sizes_s = \[60\]"):
        load_settings(**{"detect.rollup_window_s": 10})
    s = load_settings(**{"detect.rollup_window_s": 10, "windows.window_sizes_s": [10, 60]})
    assert (s.detect.rollup_window_s, s.windows.window_sizes_s) == (10, [10, 60])
