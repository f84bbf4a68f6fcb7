"""Fixtures of the alert manager tests: JSON-only state tables and candidate builders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import orjson
import pytest

from streams.alerting import AlertingConfig, AlertManager, SilenceStore, load_alerting_config

ROOT = Path(__file__).resolve().parents[4]
T0 = 1_704_067_200.0  # 2024-01-01T00:00Z


class JsonTable(MutableMapping):
    """A faust Table stand-in: values are stored as JSON bytes, so a value that is not
    JSON fails, and a change made to a read value without assigning it back is lost."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> dict:
        return orjson.loads(self.data[key])

    def __setitem__(self, key: str, value: dict) -> None:
        assert isinstance(key, str)
        self.data[key] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.data))

    def __len__(self) -> int:
        return len(self.data)


def candidate(rule_id: str = "payments.provider_failure_ratio", status: str = "firing", *, at: float = T0,
              starts_at: float | None = None, group: dict | None = None, severity: str = "critical",
              team: str = "payments-oncall", lifecycle: str = "state", value: float | None = 0.08,
              event_ids: list[str] | None = None, labels: dict | None = None) -> dict:
    """An alert candidate shaped like streams.detect.evaluators.base.CompiledRule.alert()."""
    group = group if group is not None else {"series.provider": "adyen"}
    all_labels = {**(labels or {}), "rule_id": rule_id, "severity": severity, "team": team}
    for path, val in group.items():
        all_labels[path.rsplit(".", 1)[-1]] = val
    payload = json.dumps([rule_id, sorted(group.items())], separators=(",", ":"))
    starts = at if starts_at is None else starts_at
    return {
        "rule_id": rule_id, "title": f"title of {rule_id}", "kind": "ratio", "severity": severity, "owner": team,
        "tags": [], "status": status, "lifecycle": lifecycle,
        "fingerprint": hashlib.sha256(payload.encode()).hexdigest()[:16], "group": group, "labels": all_labels,
        "annotations": {"summary": f"{rule_id} {status} {group}", "description": "d", "runbook_url": "https://rb"},
        "ts": at, "starts_at": starts, "ends_at": at if status == "resolved" else None, "value": value,
        "values": {"ratio": value}, "event_ids": list(event_ids or []), "rule_file": "rules/x.yaml",
    }


def simple_config(**overrides) -> AlertingConfig:
    """One route, no inhibition: timings are the defaults unless overridden."""
    data = {"route": {"group_by": ["rule_id", "tenant"], **overrides.pop("route", {})}, **overrides}
    return AlertingConfig.model_validate(data)


class Harness:
    """A manager over JSON tables; `restart()` builds a new one over the same tables."""

    def __init__(self, config: AlertingConfig, silences: SilenceStore | None = None):
        self.config = config
        self.states = JsonTable()
        self.groups = JsonTable()
        self.silences = silences or SilenceStore()
        self.manager = self._new()
        self.history: list[dict] = []

    def _new(self) -> AlertManager:
        return AlertManager(self.config, self.states, self.groups, self.silences, database="db", topic_prefix="t")

    def restart(self) -> None:
        self.history += self.manager.drain_history()
        self.manager = self._new()

    def send(self, cand: dict, now: float | None = None) -> list:
        return self.manager.on_candidate(cand, cand["ts"] if now is None else now)

    def tick(self, now: float) -> list:
        return self.manager.tick(now)

    def changes(self) -> list[tuple[str, str]]:
        self.history += self.manager.drain_history()
        return [(row["rule_id"], row["change"]) for row in self.history]


@pytest.fixture
def library_config() -> AlertingConfig:
    return load_alerting_config(ROOT / "config" / "alerting.yaml")
