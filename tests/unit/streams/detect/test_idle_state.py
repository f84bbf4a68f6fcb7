"""Group state of event rules expires when idle; state that must persist does not."""

from streams.detect import Engine, load_rules
from streams.detect.engine import IDLE_MARGIN_S
from streams.detect.loader import default_rules_path


def _failed_login(ip: str, ts: float) -> dict:
    return {"kind": "security", "category": "authentication", "action": "login", "outcome": "failure",
            "source_ip": ip, "ts": ts, "event_id": f"e-{ip}-{ts}", "attributes": {"protocol": "ssh"}}


def test_idle_sequence_state_is_dropped_and_dead_man_state_is_kept():
    rules = load_rules(default_rules_path())
    engine = Engine(rules)
    t0 = 1_800_000_000.0
    for i in range(50):
        engine.process(_failed_login(f"198.51.100.{i}", t0), t0)
    engine.tick(t0)
    kept_before = {k for k in engine.states if not k.startswith("security.")}
    brute = [k for k in engine.states if k.startswith("security.ssh_brute_force/")]
    assert len(brute) == 50
    horizon = next(r for r in rules if r.id == "security.ssh_brute_force").idle_horizon()
    assert horizon == 1800.0  # its 30 min throttle outlives its 5 min count window
    engine.tick(t0 + horizon + IDLE_MARGIN_S / 2)
    assert [k for k in engine.states if k.startswith("security.ssh_brute_force/")] == brute
    engine.tick(t0 + horizon + IDLE_MARGIN_S + 1)
    assert not [k for k in engine.states if k.startswith("security.")]
    assert kept_before and kept_before <= set(engine.states)  # absence (dead-man) groups stay


class _CountingStates(dict):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def __setitem__(self, key, value):
        self.writes += 1
        super().__setitem__(key, value)


def test_an_item_that_changes_nothing_writes_no_state():
    rules = [r for r in load_rules(default_rules_path()) if r.id == "security.success_after_failures"]
    states = _CountingStates()
    engine = Engine(rules, states=states)
    t0 = 1_800_000_000.0
    success = {**_failed_login("198.51.100.7", t0), "outcome": "success", "event_id": "ok"}
    for i in range(100):  # ordinary logins from addresses that never failed
        engine.process({**success, "source_ip": f"10.0.0.{i}"}, t0)
    assert states.writes == 0 and not states
    engine.process(_failed_login("198.51.100.7", t0), t0)
    assert states.writes == 1
    engine.process({**success, "source_ip": "10.0.0.1"}, t0 + 1)
    assert states.writes == 1
    for i in range(5):
        engine.process(_failed_login("198.51.100.7", t0 + 2 + i), t0 + 2 + i)
    fired = engine.process({**success, "ts": t0 + 10}, t0 + 10)
    assert [a["rule_id"] for a in fired] == ["security.success_after_failures"]


def test_a_tick_leaves_the_states_of_rules_without_timed_work_alone():
    rules = load_rules(default_rules_path())
    ticking = {r.id for r in rules if r.ticks}
    assert "security.ssh_brute_force" not in ticking and "security.success_after_failures" not in ticking
    assert {r.kind for r in rules if r.ticks} >= {"absence", "threshold", "canary"}
    states = _CountingStates()
    engine = Engine([r for r in rules if r.id == "security.ssh_brute_force"], states=states, strict=True)
    t0 = 1_800_000_000.0
    for i in range(20):
        engine.process(_failed_login(f"198.51.100.{i}", t0), t0)
    writes, before = states.writes, dict(states)
    for rule in engine.rules.values():  # a tick that visited its states would raise
        rule.on_tick = None
    assert engine.tick(t0 + 60) == [] and states == before and states.writes == writes
