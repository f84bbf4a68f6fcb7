"""The engine's shortcuts (rules skipped by their guards, a group without state skipped
for an item that could not start one, the state key built without the group) must
leave every alert and every state exactly as the plain loop over the rules gives them."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detect import Engine, load_rules, source_of
from streams.detect.engine import TOUCHED
from streams.detect.evaluators.base import INERT, REJECT
from streams.detect.loader import default_rules_path
from tests.unit.streams.detect.helpers import compile_rule
from tests.unit.streams.detect.test_guards import _events

T0 = 1_767_225_600.0


class Plain(Engine):
    """Engine.process without its shortcuts: each rule of the item's source is asked."""

    def process(self, item, now):
        alerts = []
        for rule in self.rules.values():
            if source_of(item) not in rule.sources or not rule.accepts(item):
                continue
            group = rule.group_of(item)
            key = rule.state_key(group)
            previous = self.states.get(key)
            state, produced = rule.evaluate(previous, item, now)
            if not produced and state == (previous if previous is not None else rule.initial_state(group, now)):
                continue
            if rule.idle_horizon() is not None:
                state[TOUCHED] = now
            self.states[key] = state
            alerts.extend(produced)
        return alerts


def _attack(ip: str, t: float, failures: int) -> list[dict]:
    login = {"kind": "security", "category": "authentication", "action": "login", "source_ip": ip, "env": "prod",
             "attributes": {"protocol": "ssh"}}
    return ([{**login, "outcome": "failure", "ts": t + i, "event_id": f"{ip}-f{i}"} for i in range(failures)]
            + [{**login, "outcome": "success", "ts": t + failures, "event_id": f"{ip}-s"}])


def _stream() -> list[dict]:
    events = [ev for i, ev in enumerate(_events()) if i % 3 == 0 or ev["kind"] != "log"]
    for ev in events:
        ev["ts"] = T0
    # successes before, amid and after failure runs; a run too short to arm
    return (_attack("203.0.113.9", T0, 12) + events[: len(events) // 2] + _attack("203.0.113.10", T0 + 30, 3)
            + events[len(events) // 2:] + _attack("203.0.113.9", T0 + 60, 6) + _attack("198.51.100.4", T0 + 90, 5))


STREAM = _stream()


def test_alerts_and_states_are_those_of_the_plain_loop():
    rules = load_rules(default_rules_path())
    fast, plain = Engine(rules, strict=True), Plain(rules, strict=True)
    got, want = [], []
    for i, item in enumerate(STREAM):
        now = T0 + i * 0.01
        got += fast.process(dict(item), now)
        want += plain.process(dict(item), now)
    assert got == want
    assert dict(fast.states) == dict(plain.states)
    fired = {a["rule_id"] for a in got}
    assert {"security.success_after_failures", "security.ssh_brute_force"} <= fired


def test_admit_agrees_with_accepts_and_an_inert_item_leaves_nothing():
    rules = list(load_rules(default_rules_path())) + [compile_rule("""kind: sequence
source: security
group_by: [source_ip]
first: {match: {outcome: failure}, count: 2, within: 1m}
""")]
    inert = 0
    for item in STREAM:
        for rule in rules:
            verdict = rule.admit(item)
            assert (verdict != REJECT) == rule.accepts(item), (rule.id, item)
            if verdict == INERT:
                inert += 1
                group = rule.group_of(item)
                assert rule.evaluate(None, item, T0) == (rule.initial_state(group, T0), []), (rule.id, item)
    assert inert > 50  # the success logins of addresses without failures


ODD = st.one_of(st.text(max_size=6), st.sampled_from(['a"b', "a\\b", "tab\t", "\u2028", "\x7f", "é", ""]), st.none(),
                st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                st.lists(st.integers(0, 2), max_size=2), st.dictionaries(st.sampled_from("ab"), st.integers(0, 1)))
KEYED = compile_rule("""kind: pattern
source: security
group_by: [source_ip, attributes.app, target]
match: {outcome: failure}
""")


@settings(max_examples=150, deadline=None)
@given(ODD, ODD, ODD)
def test_the_state_key_of_an_item_is_that_of_its_group(ip, app, target):
    item = {"kind": "security", "source_ip": ip, "attributes": {"app": app}, "target": target}
    key = KEYED.key_of(item)
    assert key == KEYED.state_key(KEYED.group_of(item))
    values = [KEYED.group_of(item)[text] for text, _ in KEYED.group_paths]
    assert key == f"{KEYED.id}/{json.dumps(values, ensure_ascii=False, separators=(',', ':'))}"
