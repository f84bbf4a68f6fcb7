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
