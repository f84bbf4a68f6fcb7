"""Sufficient conditions let the ingest pre-filter take an event without asking its rule,
so one that holds for an event the rule rejects would send the detect stage work, and
one derived from a rule part that is not an exact equality would hide a bug: whenever
an alternative holds for a canonical event, the rule must accept it. Checked on events
built to meet each alternative (the case that matters) and on generated ones."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detect import load_rules, source_of
from streams.detect.loader import default_rules_path
from streams.detect.sufficient import holds, sufficient
from tests.unit.streams.detect.helpers import compile_rule

SUDO = {"kind": "security", "category": "privilege", "action": "sudo", "outcome": "success", "env": "prod",
        "target": "root", "actor": "alice", "attributes": {"command": "/bin/bash"}}

# Rules with parts that are not plain equalities beside parts that are: only the plain
# parts may give an alternative, and an alternative must carry every conjunct.
TRICKY = [
    """kind: pattern
source: security
filter: env == "prod" and not exists(attributes.ticket)
match: {action: sudo}
""",
    """kind: pattern
source: security
filter: env == "prod" or env == "dev"
match: {action: sudo}
""",
    """kind: pattern
source: security
filter: env == "prod" and startswith(host, "db")
match: {action: sudo}
""",
    """kind: pattern
source: security
match:
  - {action: sudo, target|re: '^r'}
  - {action: login, outcome: failure, actor|not: [svc-a]}
  - {action: [role_grant, user_create], target|cased: Root, attributes.app: console}
""",
    """kind: sequence
source: security
group_by: [source_ip]
first:
  match: {category: authentication, outcome: failure}
  filter: service == "sshd" and attributes.port == "22"
  count: 3
  within: 5m
then:
  match: {category: authentication, outcome: success}
  filter: contains(message, "accepted")
  within: 5m
""",
    """kind: threshold
source: metrics
filter: name in ["disk_used_ratio", "inode_used_ratio"] and labels.mount == "/"
group_by: [host]
condition: value > 0.9
""",
    """kind: threshold
source: metrics
filter: name == "disk_used_ratio" and value > 0.5
group_by: [host]
condition: value > 0.9
""",
]


def _rules():
    return list(load_rules(default_rules_path())) + [compile_rule(body) for body in TRICKY]


RULES = _rules()
WORDS = sorted({v for r in RULES for s in r.sources for alt in sufficient(r, s) for g in alt for v in g[1] or ()}
               | {"other", "", "Root", "root", "PROD"})
FIELDS = ["kind", "category", "action", "outcome", "env", "target", "actor", "service", "host", "name", "message"]


def _variant(value: str, fold: bool, rng: random.Random) -> str:
    return rng.choice([value, value.upper(), value.title()]) if fold else value


def _meeting(alternative, kind: str, rng: random.Random) -> dict:
    """A canonical event of `kind` that meets every guard of `alternative`, its other
    fields random."""
    ev: dict = {"kind": kind, "attributes": {}, "labels": {}, "message": rng.choice(["x", "accepted key"])}
    for name in FIELDS[1:]:
        if rng.random() < 0.6:
            ev[name] = rng.choice(WORDS + ["db-1", "web-1"])
    for key, values, fold in alternative:
        value = _variant(rng.choice(sorted(values)), fold, rng) if values is not None else "set"
        if type(key) is str:
            ev[key] = value
        else:
            ev[key[0]][key[1]] = value
    ev["value"] = rng.choice([0.1, 0.7, 0.95])
    return ev


KINDS = {"security": "security", "logs": "log", "metrics": "metric", "signals": "signal"}


def test_an_alternative_that_holds_makes_its_rule_accept():
    rng = random.Random(11)
    checked = 0
    for rule in RULES:
        for source in rule.sources:
            for alternative in sufficient(rule, source):
                for _ in range(40):
                    ev = _meeting(alternative, KINDS.get(source, source), rng)
                    assert holds([alternative], ev), (rule.id, alternative, ev)
                    assert rule.accepts(ev), (rule.id, alternative, ev)
                    checked += 1
    assert checked > 500


def test_the_plain_equality_rules_of_the_library_have_alternatives_and_the_others_none():
    by_id = {r.id: r for r in RULES}
    assert sufficient(by_id["security.success_after_failures"], "security") == [
        [("category", frozenset({"authentication"}), True), ("outcome", frozenset({"failure"}), True)],
        [("category", frozenset({"authentication"}), True), ("outcome", frozenset({"success"}), True)]]
    assert sufficient(by_id["sre.disk_almost_full"], "metrics") == [[("name", frozenset({"disk_used_ratio"}), False)]]
    assert len(sufficient(by_id["payments.settlement_batch_missing"], "logs")[0]) == 3
    for rule_id in ("deployments.canary_fail", "compliance.change_window_violation", "security.ssh_brute_force",
                    "security.sudo_root_shell", "security.new_admin_account"):
        assert all(sufficient(by_id[rule_id], s) == [] for s in by_id[rule_id].sources), rule_id


def test_only_the_plain_parts_of_a_rule_give_alternatives():
    not_exists, either, startswith, groups, sequence, two_names, numeric = (compile_rule(b) for b in TRICKY)
    assert sufficient(not_exists) == sufficient(either) == sufficient(startswith) == sufficient(numeric) == []
    assert sufficient(groups) == [[("action", frozenset({"role_grant", "user_create"}), True),
                                   ("target", frozenset({"Root"}), False),
                                   (("attributes", "app"), frozenset({"console"}), True)]]
    # the then step's filter is not an equality: only first's alternative, with its filter
    assert sufficient(sequence) == [[("category", frozenset({"authentication"}), True),
                                     ("outcome", frozenset({"failure"}), True),
                                     ("service", frozenset({"sshd"}), False),
                                     (("attributes", "port"), frozenset({"22"}), False)]]
    assert sufficient(two_names) == [[("name", frozenset({"disk_used_ratio", "inode_used_ratio"}), False),
                                      (("labels", "mount"), frozenset({"/"}), False)]]
    assert sufficient(two_names, "logs") == []


def test_holds_needs_strings_among_the_values():
    alternatives = [[("env", frozenset({"prod"}), False), ("action", frozenset({"sudo"}), True)],
                    [(("attributes", "app"), None, False)]]
    assert holds(alternatives, SUDO) and holds(alternatives, {**SUDO, "action": "SUDO"})
    assert not holds(alternatives, {**SUDO, "env": "PROD"})  # not folded
    assert not holds(alternatives, {**SUDO, "env": None}) and not holds(alternatives, {**SUDO, "action": 1})
    assert holds(alternatives, {"attributes": {"app": "x"}})
    assert not holds(alternatives, {"attributes": {"app": ""}}) and not holds(alternatives, {"attributes": "app"})
    assert not holds([], SUDO) and holds([[]], SUDO) and not holds([[]], [("env", "prod")])


EVENTS = st.fixed_dictionaries(
    {"kind": st.sampled_from(["security", "log", "metric"])},
    optional={name: st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS).map(str.upper), st.integers(0, 2),
                              st.none()) for name in FIELDS[1:]}
    | {"attributes": st.dictionaries(st.sampled_from(["app", "port", "tls.version", "job", "status", "ticket"]),
                                     st.sampled_from(WORDS + ["22", "TLSv1"]), max_size=3),
       "labels": st.dictionaries(st.sampled_from(["mount", "deployment_group"]), st.sampled_from(["/", "x"]),
                                 max_size=2),
       "value": st.sampled_from([0.1, 0.95])})


@settings(max_examples=150, deadline=None)
@given(EVENTS)
def test_on_generated_events_an_alternative_that_holds_means_the_rule_accepts(ev):
    for rule in RULES:
        source = source_of(ev)  # the pre-filter asks only the rules of the event's source
        if source in rule.sources and holds(sufficient(rule, source), ev):
            assert rule.accepts(ev), (rule.id, ev)
