from __future__ import annotations

import json
from collections.abc import MutableMapping
from pathlib import Path

from streams.detect import Engine, evaluate, load_rules, tick
from streams.detect.loader import load_path
from streams.detect.ruletest import run_case
from tests.unit.streams.detect.helpers import compile_rule, rollup

LIBRARY = Path(__file__).resolve().parents[4] / "rules"


class JsonTable(MutableMapping):
    """Stores states as JSON text, like a changelog-backed table that serializes every value."""

    def __init__(self):
        self.data: dict[str, str] = {}
        self.writes = 0

    def __getitem__(self, key):
        return json.loads(self.data[key])

    def __setitem__(self, key, value):
        self.writes += 1
        self.data[key] = json.dumps(value, allow_nan=False)

    def __delitem__(self, key):
        del self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)


def test_every_library_case_gives_the_same_alerts_when_state_round_trips_through_json():
    result = load_path(LIBRARY)
    compared = writes = 0
    for loaded in result.rules:
        for case in loaded.model.tests:
            plain = run_case(loaded, case)
            table = JsonTable()
            stored = run_case(loaded, case, states=table)
            assert stored == plain, (loaded.id, case.name)
            compared += len(plain)
            writes += table.writes
    assert compared > 40 and writes > 1000


def test_engine_routes_each_item_to_the_rules_that_accept_it():
    rules = load_rules(LIBRARY)
    engine = Engine(rules)
    item = {"family": "payment", "window_start": 0.0, "window_s": 60, "series": {"provider": "adyen", "tenant": "t"},
            "count": 100, "failures": 50}
    engine.process(item, 60.0)
    assert sorted(key.split("/")[0] for key in engine.states) == ["payments.provider_failure_ratio", "payments.volume_drop"]
    assert 'payments.provider_failure_ratio/["adyen"]' in engine.states


def test_engine_seeds_expected_groups_on_tick_and_isolates_a_broken_rule():
    rules = load_rules(LIBRARY)
    engine = Engine(rules)
    engine.tick(0.0)
    assert 'payments.settlement_batch_missing/["default"]' in engine.states
    broken = next(r for r in rules if r.id == "sre.error_ratio_high")

    def explode(state, item, now):
        raise RuntimeError("bug")

    broken.step = explode
    alerts = engine.process(rollup(0, errors=50, count=100), 60.0)
    assert engine.errors == {"sre.error_ratio_high": 1}
    assert alerts == [] and any(k.startswith("sre.error_log_spike/") for k in engine.states)


def test_module_level_api():
    rule = compile_rule("kind: pattern\nsource: logs\nmatch: {service: api}\n")
    state, alerts = evaluate(rule, None, {"kind": "log", "service": "api", "ts": 5.0, "event_id": "x"}, 5.0)
    assert state == {"group": {}, "last_alert": 5.0} and len(alerts) == 1
    assert tick(rule, state, 10.0) == (state, [])
    assert set(alerts[0]) == {"rule_id", "title", "kind", "severity", "owner", "tags", "status", "lifecycle",
                              "fingerprint", "group", "labels", "annotations", "ts", "starts_at", "ends_at", "value",
                              "values", "event_ids", "rule_file"}
