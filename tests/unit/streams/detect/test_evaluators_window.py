from __future__ import annotations

import copy
import json

from tests.unit.streams.detect.helpers import compile_problems, compile_rule, rollup, run

THRESHOLD = """\
kind: threshold
source: rollups
filter: family == "log"
group_by: [series.service]
window: 3m
condition: sum_over(errors) > 10
"""


def test_window_sum_fires_and_resolves_with_prometheus_semantics():
    rule = compile_rule(THRESHOLD)
    _, alerts = run(rule, [rollup(m, errors=e) for m, e in enumerate([2, 4, 6, 1, 1, 1])])
    assert [(a["status"], a["ts"], a["value"]) for a in alerts] == [("firing", 180.0, 12.0), ("resolved", 300.0, 8.0)]
    firing, resolved = alerts
    assert firing["starts_at"] == 180.0 and resolved["ends_at"] == 300.0
    assert firing["group"] == {"series.service": "api"} and firing["labels"]["service"] == "api"
    assert firing["fingerprint"] == resolved["fingerprint"]
    assert firing["lifecycle"] == "state"


def test_a_re_emitted_window_replaces_its_bucket_instead_of_counting_twice():
    rule = compile_rule(THRESHOLD)
    state, alerts = run(rule, [rollup(0, errors=6), rollup(0, errors=6), rollup(0, errors=7)])
    assert alerts == []
    assert len(state["buckets"]) == 1


def test_series_of_one_group_add_up():
    rule = compile_rule(THRESHOLD)
    items = [rollup(0, errors=6, series={"service": "api", "host": "a"}),
             rollup(0, errors=6, series={"service": "api", "host": "b"})]
    _, alerts = run(rule, items)
    assert [a["value"] for a in alerts] == [12.0]


def test_for_delays_firing_and_a_gap_resets_it():
    rule = compile_rule(THRESHOLD + "for: 2m\n")
    errors = [20, 20, 0, 0, 0, 20, 20, 20]
    _, alerts = run(rule, [rollup(m, errors=e) for m, e in enumerate(errors)])
    # Held at 1m, 2m, 3m (window sum > 10), not at 4m-5m; again from 6m -> fires at 8m (starts 6m).
    assert [(a["status"], a["ts"], a["starts_at"]) for a in alerts] == [("firing", 180.0, 60.0), ("resolved", 300.0, 60.0),
                                                                        ("firing", 480.0, 360.0)]


def test_stale_groups_resolve_on_tick_instead_of_firing_forever():
    rule = compile_rule(THRESHOLD)
    state, alerts = run(rule, [rollup(0, errors=50)])
    assert [a["status"] for a in alerts] == ["firing"]
    state, quiet = rule.tick(state, 60 + 600)
    assert quiet == []
    state, resolved = rule.tick(state, 60 + 900)
    assert [(a["status"], a["values"]) for a in resolved] == [("resolved", {"reason": "no data"})]
    assert rule.tick(state, 60 + 2000)[1] == []


def test_evaluate_never_mutates_the_given_state_and_state_is_json():
    rule = compile_rule(THRESHOLD)
    state, _ = run(rule, [rollup(0, errors=1), rollup(1, errors=2)])
    frozen = copy.deepcopy(state)
    new_state, _ = rule.evaluate(state, rollup(2, errors=20), 180)
    assert state == frozen
    assert json.loads(json.dumps(new_state)) == new_state


def test_raw_events_are_zero_width_buckets():
    rule = compile_rule("""\
        kind: threshold
        source: metrics
        filter: name == "disk_used_ratio"
        group_by: [host]
        condition: value > 0.9
        for: 2m
    """)
    items = [{"kind": "metric", "name": "disk_used_ratio", "host": "h", "value": 0.95, "ts": t, "event_id": str(t)}
             for t in (0, 60, 120)]
    _, alerts = run(rule, items)
    assert [(a["ts"], a["value"], a["event_ids"]) for a in alerts] == [(120, 0.95, ["120"])]


def test_default_value_is_the_left_side_of_the_first_comparison():
    rule = compile_rule(THRESHOLD.replace("sum_over(errors) > 10", "errors * 2 >= 10 and count > 0"))
    _, alerts = run(rule, [rollup(0, errors=5, count=1)])
    assert alerts[0]["value"] == 10


def test_window_function_without_a_window_is_a_problem():
    problems = compile_problems(THRESHOLD.replace("window: 3m\n", ""))
    assert problems == ['10:12: sum_over() needs a window: pass one (e.g. sum_over(x, "5m")) or set window:']


RATIO = """\
kind: ratio
source: rollups
filter: family == "payment"
group_by: [series.provider]
numerator: failures
denominator: count
window: 2m
windows: {long: 4m}
min_denominator: 100
condition: ratio > 0.1 and ratio_long > 0.1
"""


def test_ratio_over_two_windows():
    rule = compile_rule(RATIO)
    rows = [(100, 0), (100, 0), (100, 30), (100, 30), (100, 0), (100, 0)]
    items = [rollup(m, family="payment", series={"provider": "p"}, count=c, failures=f) for m, (c, f) in enumerate(rows)]
    _, alerts = run(rule, items)
    # 3m: short 30/200=0.15, long 30/300=0.1 (not >); 4m: short 0.3, long 60/400=0.15 -> fire;
    # 5m: short 30/200, long 60/400 -> holds; 6m: short 0 -> resolve.
    assert [(a["status"], a["ts"]) for a in alerts] == [("firing", 240.0), ("resolved", 360.0)]
    assert alerts[0]["values"] == {"ratio": 0.3, "numerator": 60.0, "denominator": 200.0,
                                   "ratio_long": 0.15, "numerator_long": 60.0, "denominator_long": 400.0}


def test_ratio_below_min_denominator_is_null():
    rule = compile_rule(RATIO)
    _, alerts = run(rule, [rollup(m, family="payment", series={"provider": "p"}, count=10, failures=10) for m in range(6)])
    assert alerts == []


def test_ratio_condition_may_only_name_defined_windows():
    problems = compile_problems(RATIO.replace("ratio_long > 0.1", "ratio_longer > 0.1"))
    assert problems == ["15:12: 'ratio_longer' is not defined; windows are: ratio, ratio_long"]


def test_group_paths_must_give_distinct_alert_labels():
    problems = compile_problems(THRESHOLD.replace("group_by: [series.service]", "group_by: [series.service, service]"))
    assert problems == ["9:28: 'service' and 'series.service' would both become the alert label 'service'"]
