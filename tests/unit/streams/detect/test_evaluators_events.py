from __future__ import annotations

import pytest

from tests.unit.streams.detect.helpers import compile_problems, compile_rule, run


def sec(ts: float = 0.0, **fields) -> dict:
    base = {"kind": "security", "event_id": f"e{ts}", "ts": ts, "service": "auth", "host": "h1", "actor": "alice",
            "outcome": "success", "source_ip": "203.0.113.5", "category": "authentication", "action": "login",
            "target": "", "attributes": {}, "env": "prod"}
    return {**base, **fields}


def pattern(match: str, extra: str = "") -> str:
    return f"kind: pattern\nsource: security\nmatch: {match}\n{extra}"


@pytest.mark.parametrize(
    ("match", "event", "hit"),
    [
        ("{actor: ALICE}", {}, True),  # case-insensitive by default, like Sigma
        ("{actor|cased: ALICE}", {}, False),
        ("{actor: [bob, alice]}", {}, True),  # a list is any-of
        ("{actor|contains|all: [al, ce]}", {}, True),
        ("{actor|contains|all: [al, zz]}", {}, False),
        ("{actor|startswith: ali, action|endswith: gin}", {}, True),
        ("{actor|not: [alice, bob]}", {}, False),
        ("{source_ip|cidr: 203.0.113.0/24}", {}, True),
        ("{source_ip|cidr: '2001:db8::/32'}", {"source_ip": "2001:db8::7"}, True),
        ("{source_ip|cidr: 10.0.0.0/8}", {"source_ip": "garbage"}, False),
        ("{attributes.attempts|gte: 5}", {"attributes": {"attempts": "7"}}, True),  # numeric string
        ("{attributes.attempts|lt: 5}", {"attributes": {"attempts": "7"}}, False),
        ("{attributes.ticket|exists: false}", {}, True),
        ("{attributes.ticket|exists: true}", {"attributes": {"ticket": "CHG-1"}}, True),
        ("{target|re: '^root$'}", {"target": "root"}, True),
        ("{target|re: '^root$'}", {"target": "ROOT"}, False),  # regex is case-sensitive unless (?i)
        ("{severity_number|gt: 16}", {"severity_number": 17}, True),
        ("[{actor: bob}, {action: login}]", {}, True),  # a list of maps is OR
        ("{}", {}, True),
    ],
)
def test_field_matchers(match, event, hit):
    rule = compile_rule(pattern(match))
    assert rule.accepts(sec(**event)) is hit


def test_pattern_alert_carries_evidence_and_throttle_counts_suppressed():
    rule = compile_rule(pattern("{action: sudo}", "group_by: [host]\nthrottle: 10m\n"))
    events = [sec(t, action="sudo", target="root") for t in (0, 60, 120, 700)]
    _, alerts = run(rule, events)
    assert [(a["ts"], a["values"]["suppressed"]) for a in alerts] == [(0, 0), (700, 2)]
    first = alerts[0]
    assert first["lifecycle"] == "event" and first["status"] == "firing" and first["ends_at"] is None
    assert first["event_ids"] == ["e0"]
    assert first["values"]["actor"] == "alice" and first["values"]["target"] == "root"


def test_bad_matchers_are_reported_at_their_key():
    problems = compile_problems(pattern("\n  actor|contains|re: x\n  target|exists: maybe\n  source_ip|cidr: [300.1.1.1/8]\n"
                                        "  actor|gt: abc\n  actor: []\n"))
    assert problems == [
        "9:3: 'actor|contains|re' has two value modifiers (contains, re); use one",
        "10:18: 'target|exists' takes true or false",
        "11:19: 'source_ip|cidr': '300.1.1.1/8' is not a CIDR network (e.g. 10.0.0.0/8)",
        "12:13: 'actor|gt': 'abc' is not a number",
        "13:10: 'actor' has an empty list of values",
    ]


COMPLIANCE = """\
kind: compliance
source: security
controls: [pci-dss:6.5.1]
match: {action: config_change}
change_windows:
  - {days: [tue], start: "22:00", end: "02:00", tz: Europe/Paris}
allow: {actor: [svc-deploy]}
"""

MONDAY = 1704067200.0  # 2024-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("utc_offset_hours", "actor", "violation"),
    [
        (1 * 24 + 21.5, "ops", False),  # Tue 21:30 UTC = 22:30 Paris: inside
        (1 * 24 + 20.5, "ops", True),  # Tue 20:30 UTC = 21:30 Paris: before the window
        (2 * 24 + 0.5, "ops", False),  # Wed 01:30 Paris: window opened on Tuesday
        (2 * 24 + 1.5, "ops", True),  # Wed 02:30 Paris: closed
        (3 * 24 + 21.5, "ops", True),  # Thu 22:30 Paris: not a window day
        (3 * 24 + 12, "svc-deploy", False),  # allow-listed actor
    ],
)
def test_compliance_change_windows_and_allow_list(utc_offset_hours, actor, violation):
    rule = compile_rule(COMPLIANCE)
    _, alerts = run(rule, [sec(MONDAY + utc_offset_hours * 3600, action="config_change", actor=actor)])
    assert bool(alerts) is violation
    if alerts:
        assert alerts[0]["values"]["controls"] == ["pci-dss:6.5.1"]


def test_compliance_config_problems():
    assert compile_problems(COMPLIANCE.replace("Europe/Paris", "Mars/Olympus")) == [
        "11:53: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Paris)"]
    assert compile_problems(COMPLIANCE.replace('"02:00"', '"25:00"'))[0].startswith(
        "11:40: change_windows.0.end: '25:00' is not a time HH:MM")
    assert compile_problems(COMPLIANCE.replace("controls: [pci-dss:6.5.1]", "controls: []"))[0].startswith(
        "8:11: controls: List should have at least 1 item")


SEQUENCE = """\
kind: sequence
source: security
group_by: [source_ip]
first:
  match: {outcome: failure}
  count: 3
  within: 1m
"""


def test_sequence_counts_within_a_sliding_window():
    rule = compile_rule(SEQUENCE)
    times = [0, 40, 70, 95, 100]  # 0,40 fall out before 95; 40,70,95 are within 60s? no: 95-40=55 -> yes
    _, alerts = run(rule, [sec(t, outcome="failure") for t in times])
    assert [(a["ts"], a["starts_at"], a["value"], a["event_ids"]) for a in alerts] == [(95, 40, 3, ["e40", "e70", "e95"])]


def test_sequence_handles_out_of_order_events():
    rule = compile_rule(SEQUENCE)
    _, alerts = run(rule, [sec(50, outcome="failure"), sec(10, outcome="failure"), sec(30, outcome="failure")])
    assert [(a["starts_at"], a["ts"]) for a in alerts] == [(10, 30)]


def test_sequence_then_step_must_follow_in_time():
    rule = compile_rule(SEQUENCE + "then:\n  match: {outcome: success}\n  within: 2m\n")
    fails = [sec(t, outcome="failure") for t in (0, 10, 20)]
    _, in_time = run(rule, fails + [sec(100, outcome="success")])
    _, too_late = run(rule, fails + [sec(200, outcome="success")])
    _, no_failures = run(rule, [sec(0, outcome="success")])
    assert [(a["ts"], a["starts_at"], a["event_ids"]) for a in in_time] == [(100, 0, ["e0", "e10", "e20", "e100"])]
    assert too_late == [] and no_failures == []


def test_sequence_state_stays_bounded():
    rule = compile_rule(SEQUENCE.replace("count: 3", "count: 100"))
    state, _ = run(rule, [sec(t * 0.1, outcome="failure") for t in range(99)])
    assert len(state["hits"]) == 99
    state, alerts = run(rule, [sec(10 + t * 0.1, outcome="failure") for t in range(300)], state)
    assert len(state["hits"]) == 99 and len(alerts) == 3  # fires at 100, 200, 300 hits; resets after each


def test_sequence_then_count_is_rejected():
    assert compile_problems(SEQUENCE + "then:\n  match: {outcome: success}\n  count: 2\n  within: 2m\n") == [
        "15:10: then: matches a single event; count is only for first:"]


ABSENCE = """\
kind: absence
source: metrics
filter: name == "heartbeat"
group_by: [host]
window: 10m
expect: [{host: db-1}]
"""


def test_absence_fires_once_and_resolves_on_data():
    rule = compile_rule(ABSENCE)
    assert rule.seed_groups() == [{"host": "db-1"}]
    beat = {"kind": "metric", "name": "heartbeat", "host": "db-1", "value": 1, "ts": 0.0}
    state, _ = run(rule, [beat])
    state, early = rule.tick(state, 599)
    state, fired = rule.tick(state, 601)
    state, again = rule.tick(state, 900)
    state, resolved = rule.evaluate(state, {**beat, "ts": 950.0}, 950.0)
    assert early == [] and again == []
    assert [(a["status"], a["values"]["silent_for"]) for a in fired] == [("firing", 601)]
    assert [(a["status"], a["ts"], a["value"]) for a in resolved] == [("resolved", 950.0, 950.0)]


def test_absence_uses_arrival_time_so_a_lagging_consumer_does_not_page():
    rule = compile_rule(ABSENCE)
    old = {"kind": "metric", "name": "heartbeat", "host": "db-1", "value": 1, "ts": 0.0}
    state, _ = rule.evaluate(None, old, now=5000.0)  # arrives 5000 s after it was produced
    assert rule.tick(state, 5100.0)[1] == []


def test_absence_expected_groups_must_match_group_by():
    assert compile_problems(ABSENCE.replace("expect: [{host: db-1}]", "expect: [{hostname: db-1}]")) == [
        "11:10: expected group keys ['hostname'] must be exactly group_by ['host']"]
