"""Backtest SQL of threshold, ratio and sequence rules agrees with the stream evaluator.

Items go into an in-process ClickHouse (chDB) built from the real DDL in
schemas/migrations, raw events into the event tables and rollup items through
the store's own insert statements (streams/aggregate/clickhouse.py) into the
1-minute rollup tables; the same items run through streams.detect.engine.Engine
(with a timer tick every minute of event time). The firing intervals (or
sequence alerts) both report must be the same.
"""

from __future__ import annotations

import random

import pytest

from streams.detect.evaluators.base import item_time
from streams.detect.loader import load_path
from streams.detect.ruletest import EPOCH
from streams.detect.sql import SqlUnsupported, output_kind, to_sql
from tests.unit.streams.detect.backtest_harness import (
    DB,
    ROOT,
    assert_agree,
    backtest,
    case_items,
    in_stream,
    load,
    raw_event,
    recent,
    rollup_item,
)
from tests.unit.streams.detect.helpers import compile_rule


def test_library_rule_cases_agree_with_the_engine(ch):
    rules = load_path(ROOT / "rules").rules
    checked, fired = set(), 0
    for loaded in rules:
        try:
            to_sql(loaded.rule, "30d", DB)
        except SqlUnsupported:
            continue
        if output_kind(loaded.rule) == "events" or loaded.rule.kind == "absence":
            continue  # test_sql.py compares pattern/compliance event by event, test_sql_absence.py absence
        for case in range(len(loaded.model.tests)):
            # Whole hours (seasonal slots stay put), the case's last item a few hours ago
            # (so the stream's timer has run past it, and nothing lies in the future).
            last = max((item_time(i) for i in case_items(loaded, case, 0.0)), default=EPOCH)
            items = case_items(loaded, case, recent(last))
            load(ch, items)
            want = in_stream(loaded.rule, items)
            assert_agree(backtest(ch, loaded.rule), want, f"{loaded.id} case {case}")
            fired += len(want)
        checked.add(loaded.id)
    assert {"payments.provider_failure_ratio", "sre.error_ratio_high", "sre.queue_depth_high", "sre.consumer_lag",
            "sre.disk_almost_full", "security.ssh_brute_force", "security.success_after_failures",
            "payments.refund_spike", "payments.volume_drop", "payments.chargeback_anomaly", "sre.error_log_spike",
            "deployments.canary_fail"} <= checked
    assert fired >= 6, "too few alerts: the comparison proves little"


def test_unsupported_kinds_and_families_say_why():
    cases = {
        "kind: anomaly\nsource: rollups\nfilter: family == 'histogram'\nvalue: p99\nmethod: ewma\n": "histogram rollups are not stored",
        "kind: absence\nsource: signals\nwindow: 5m\n": "source 'signals' has no table to backtest against",
        ("kind: canary\nsource: deployments\nsamples: rollups\ngroup_by: [service]\n"
         "metrics: [{name: l, filter: 'family == \"metric\"', value: max}]\n"): "canary samples from rollups have no SQL form",
        ("kind: canary\nsource: deployments\ngroup_by: [host]\n"
         "metrics: [{name: l, filter: 'name == \"x\"'}]\n"): "group_by 'host' is not a column of the deployments table",
        ("kind: ratio\nsource: rollups\nfilter: family == 'histogram'\nnumerator: count\ndenominator: count\n"
         "window: 5m\ncondition: ratio > 1\n"): "histogram rollups are not stored",
        ("kind: ratio\nsource: rollups\nnumerator: failures\ndenominator: count\nwindow: 5m\n"
         "condition: ratio > 1\n"): 'needs `family == "..."`',
        ("kind: ratio\nsource: rollups\nfilter: family == 'payment'\nnumerator: failures\ndenominator: count\n"
         "window: 5m\ncondition: ratio > 0.1 and p99 > 3\n"): "field 'p99' is not available in a ratio condition",
    }
    for body, message in cases.items():
        with pytest.raises(SqlUnsupported, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
            to_sql(compile_rule(body))


def _payment(minute: int, provider: str, count: int, failures: int, merchant: str = "m1") -> dict:
    base = recent(0.0) - 3 * 3600
    return rollup_item({"family": "payment", "window_start": base + 60 * minute, "count": count,
                        "failures": failures, "series": {"provider": provider, "merchant": merchant}})


def test_ratio_with_two_windows_gaps_and_no_data(ch):
    rule = compile_rule("""\
        kind: ratio
        source: rollups
        filter: family == "payment"
        group_by: [series.provider]
        numerator: failures
        denominator: count
        window: 5m
        windows: {long: 20m}
        min_denominator: 50
        condition: ratio > 0.05 and ratio_long > 0.02
        for: 2m
    """)
    items = [_payment(m, "adyen", 100, 10 if 5 <= m < 15 else 0) for m in range(30)]
    items += [_payment(m, "stripe", 100, 20) for m in (0, 1, 2, 3, 4, 6, 7)]  # silent after 7: "no data"
    items += [_payment(m, "stripe", 100, 20) for m in range(60, 66)]  # back, fires again, still firing
    items += [_payment(m, "tiny", 9, 8) for m in range(20)]  # below min_denominator in 5m
    load(ch, items)
    want = in_stream(rule, items)
    assert {e["group"]["series.provider"] for e in want} == {"adyen", "stripe"}
    assert [e["resolved_by"] for e in want if e["group"]["series.provider"] == "stripe"] == ["no data", "no data"]
    assert [e["resolved_by"] for e in want if e["group"]["series.provider"] == "adyen"] == ["condition"]
    assert_agree(backtest(ch, rule, "1d"), want, "two windows")


def test_random_rollups_agree_with_the_engine(ch):
    rng = random.Random(5)
    rule = compile_rule("""\
        kind: ratio
        source: rollups
        filter: family == "payment"
        group_by: [series.provider]
        numerator: failures
        denominator: count
        window: 3m
        min_denominator: 20
        condition: ratio > 0.1
        for: 2m
    """)
    windowed = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "payment" and series.currency != "JPY"
        group_by: [series.provider]
        window: 4m
        condition: sum_over(failures) > 25 and max_over(failures, "2m") >= 5 and count_over(count) >= 2
        value: avg_over(failures)
        for: 1m
    """)
    items = []
    for provider in ("adyen", "stripe", "worldpay"):
        failing = False
        for minute in range(240):
            if rng.random() < 0.1:
                failing = not failing
            if rng.random() < 0.05:
                continue  # a minute without payments
            count = rng.randint(5, 60)
            failures = rng.randint(0, count // 3) if failing else rng.randint(0, 1)
            items.append(_payment(minute, provider, count, failures))
    load(ch, items)
    for r in (rule, windowed):
        want = in_stream(r, items)
        assert len(want) >= 5, want
        assert_agree(backtest(ch, r, "1d"), want, r.kind)


def test_metric_and_log_rollups(ch):
    base = recent(0.0) - 2 * 3600
    rule = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "metric" and series.name == "queue_depth"
        group_by: [series.service, series.labels.queue]
        condition: max > 100 and series.labels.queue != "ignored"
        for: 3m
    """)
    items = []
    for minute in range(40):
        for queue, depth in (("a", 150 if minute % 10 < 6 else 50), ("b", 20), ("ignored", 500)):
            items.append(rollup_item({"family": "metric", "window_start": base + 60 * minute, "max": depth,
                                      "series": {"service": "payouts", "name": "queue_depth",
                                                 "labels": {"queue": queue}}}))
        items.append(rollup_item({"family": "log", "window_start": base + 60 * minute, "count": 100,
                                  "errors": 30 if minute > 30 else 1, "series": {"service": "api"}}))
    counter = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "metric" and series.name == "refunds_total"
        window: 5m
        condition: sum_over(increase) > 40
    """)
    for minute in range(40):
        items.append(rollup_item({"family": "metric", "window_start": base + 60 * minute, "increase": 10 + minute % 7,
                                  "series": {"service": "payouts", "name": "refunds_total"}}))
    errors = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "log"
        group_by: [series.service]
        condition: error_ratio > 0.2
        for: 2m
    """)
    load(ch, items)
    for r in (rule, counter, errors):
        want = in_stream(r, items)
        assert want, r.model.condition
        assert_agree(backtest(ch, r, "1d"), want, r.model.condition)


def test_raw_threshold_with_sliding_windows_and_for(ch):
    rule = compile_rule("""\
        kind: threshold
        source: logs
        filter: severity_number >= 17
        group_by: [service]
        window: 2m
        condition: count_over(severity_number) >= 5
        for: 30s
    """)
    rng = random.Random(7)
    start = recent(0.0) - 3600
    items = []
    for n in range(400):
        ts = start + rng.uniform(0, 1800)
        items.append(raw_event({"kind": "log", "event_id": f"log-{n}", "ts": ts, "observed_ts": ts,
                                "tenant": "default", "service": rng.choice(["api", "web"]), "env": "prod",
                                "host": "h", "severity_number": rng.choice([9, 17, 17]), "severity_text": "x",
                                "message": "m", "trace_id": "", "span_id": "", "attributes": {}}))
    load(ch, items)
    want = in_stream(rule, items)
    assert len(want) >= 3
    assert_agree(backtest(ch, rule, "1d"), want, "raw sliding threshold")


def _login(n: int, ts: float, ip: str, outcome: str) -> dict:
    return raw_event({"kind": "security", "event_id": f"login-{n}", "ts": ts, "observed_ts": ts, "tenant": "default",
                      "service": "sshd", "env": "prod", "host": "bastion", "category": "authentication",
                      "action": "login", "outcome": outcome, "actor": "root", "target": "root", "source_ip": ip,
                      "severity_number": 9, "severity_text": "info", "message": "", "attributes": {"protocol": "ssh"}})


def test_sequences_reset_arm_expire_and_throttle(ch):
    rng = random.Random(11)
    start = recent(0.0) - 3600
    items, n = [], 0
    for ip in ("203.0.113.1", "203.0.113.2", "198.51.100.7", "10.250.0.9"):
        t = start
        for _ in range(150):
            t += rng.choice([1, 2, 5, 20, 60, 400])
            n += 1
            items.append(_login(n, t, ip, "failure" if rng.random() < 0.8 else "success"))
    # Exactly `within` apart is outside the window (the evaluator keeps hits newer than t - within).
    for k in range(8):
        items.append(_login(1000 + k, start + 20 * k, "192.0.2.99", "failure"))
    items.append(_login(2000, start + 30 * 60, "192.0.2.99", "failure"))
    load(ch, items)
    bodies = [
        "kind: sequence\nsource: security\nfilter: attributes.protocol == 'ssh'\ngroup_by: [source_ip]\n"
        "first: {match: {outcome: failure, source_ip|cidr|not: [10.250.0.0/16]}, count: 4, within: 1m}\n",
        "kind: sequence\nsource: security\ngroup_by: [source_ip]\n"
        "first: {match: {outcome: failure}, count: 4, within: 1m}\nthrottle: 15m\n",
        "kind: sequence\nsource: security\ngroup_by: [source_ip]\n"
        "first: {match: {category: authentication, outcome: failure}, count: 3, within: 2m}\n"
        "then: {match: {outcome: success}, within: 1m}\n",
    ]
    for body in bodies:
        rule = compile_rule(body)
        want = in_stream(rule, items)
        assert len(want) >= 3, body
        assert_agree(backtest(ch, rule, "1d"), want, body)
