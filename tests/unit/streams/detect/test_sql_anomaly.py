"""Backtest SQL of anomaly rules agrees with the stream evaluator (EWMA, robust, seasonal).

Random rollups (several series per group, gaps, incidents and level shifts) and raw
metric samples go into chDB and through streams.detect.engine.Engine; the firing
intervals must be the same, and so must the value, baseline and z-score at firing.
"""

from __future__ import annotations

import random
import uuid

from tests.unit.streams.detect.backtest_harness import (
    assert_agree,
    backtest,
    in_stream,
    load,
    raw_event,
    recent,
    rollup_item,
)
from tests.unit.streams.detect.helpers import compile_rule


def _log_rollups(rng: random.Random, hours: int, base: float) -> list[dict]:
    """Errors per minute of three services, two series (tenants) each, with incidents and silences."""
    items = []
    for service, level in (("api", 5), ("ledger", 40), ("auth", 0)):
        incident = 0
        for minute in range(hours * 60):
            if rng.random() < 0.02:
                incident = rng.randint(1, 6)
            if 200 <= minute < 230 and service == "ledger":
                continue  # silent half an hour: stale "no data" resolution
            if rng.random() < 0.04:
                continue  # a missing minute
            for tenant in ("t1", "t2"):
                if rng.random() < 0.1:
                    continue  # one series missing in this window
                errors = max(0, level + rng.randint(-3, 3)) + (rng.randint(40, 200) if incident else 0)
                if 193 <= minute < 200 and service == "ledger":
                    errors += 400  # an incident still firing when the service goes silent
                if minute > hours * 45 and service == "api":
                    errors += 30  # a lasting level shift, slowly absorbed
                items.append(rollup_item({"family": "log", "window_start": base + 60 * minute, "count": 5000,
                                          "errors": errors, "series": {"service": service, "tenant": tenant}}))
            incident = max(0, incident - 1)
    return items


def test_ewma_and_robust_over_random_rollups(ch):
    rng = random.Random(21)
    base = recent(0.0) - 12 * 3600
    items = _log_rollups(rng, 8, base)
    load(ch, items)
    bodies = [
        "method: ewma\nalpha: 0.1\nmin_samples: 20\nthreshold: 4\nmin_deviation: 10\n",
        "method: ewma\nalpha: 0.2\nmin_samples: 10\nthreshold: 3\ndirection: both\ncombine: avg\nfor: 2m\n",
        "method: robust\nhistory: 30\nmin_samples: 15\nthreshold: 5\nmin_deviation: 5\n",
        "method: robust\nhistory: 20\nmin_samples: 10\nthreshold: 3\ndirection: down\ncombine: max\n",
        "method: ewma\nalpha: 0.05\nmin_samples: 30\nthreshold: 3\ncombine: min\nfor: 3m\n",
    ]
    ends = set()
    for body in bodies:
        rule = compile_rule("kind: anomaly\nsource: rollups\nfilter: family == 'log' and series.service != 'x'\n"
                            "group_by: [series.service]\nvalue: errors\n" + body)
        want = in_stream(rule, items)
        assert len(want) >= 3, (body, want)
        assert_agree(backtest(ch, rule, "1d"), want, body)
        ends |= {w["resolved_by"] for w in want}
    assert ends == {"condition", "no data"}  # the stale path is exercised too


def test_seasonal_over_random_rollups(ch):
    rng = random.Random(8)
    base = recent(0.0) - 14 * 3600
    items, surge = [], {"adyen": 0, "stripe": 0}
    for minute in range(12 * 60):
        hour_shape = 20 + 15 * ((minute // 5) % 12)  # each 5-minute slot of the hour has its own level
        for provider in ("adyen", "stripe"):
            if rng.random() < 0.05:
                continue
            if rng.random() < 0.015:
                surge[provider] = rng.randint(1, 4)
            count = hour_shape + rng.randint(-4, 4) + (rng.randint(60, 150) if surge[provider] else 0)
            surge[provider] = max(0, surge[provider] - 1)
            items.append(rollup_item({"family": "payment", "window_start": base + 60 * minute, "count": count,
                                      "failures": 0, "series": {"provider": provider, "merchant": "m1"}}))
    load(ch, items)
    for body in ("threshold: 4\nmin_deviation: 20\n", "threshold: 3\ndirection: both\nfor: 1m\ncombine: max\n"):
        rule = compile_rule("kind: anomaly\nsource: rollups\nfilter: family == 'payment'\n"
                            "group_by: [series.provider]\nvalue: count\nmethod: seasonal\nseason: 1h\nbucket: 5m\n"
                            "min_seasons: 2\nmin_samples: 8\n" + body)
        want = in_stream(rule, items)
        assert len(want) >= 3, (body, want)
        assert_agree(backtest(ch, rule, "1d"), want, body)


def test_raw_metric_samples_are_points_of_their_own(ch):
    rng = random.Random(3)
    start = recent(0.0) - 8 * 3600
    items = []
    for host in ("db-1", "db-2"):
        t, busy = start + rng.uniform(0, 5), 0
        for n in range(700):
            t += rng.choice([7.5, 10.0, 10.0, 12.25, 1500.0 if n == 400 else 10.0])
            if rng.random() < 0.02:
                busy = rng.randint(1, 5)
            value = 0.3 + rng.uniform(-0.02, 0.02) + (rng.uniform(0.2, 0.5) if busy else 0.0)
            busy = max(0, busy - 1)
            items.append(raw_event({"kind": "metric", "event_id": f"{host}-{n}", "ts": t, "observed_ts": t,
                                    "tenant": "default", "service": "db", "env": "prod", "host": host,
                                    "name": "cpu", "type": "gauge", "value": round(value, 4), "unit": "",
                                    "labels": {}, "attributes": {}}))
    items.append(raw_event({"kind": "metric", "event_id": str(uuid.uuid4()), "ts": start, "observed_ts": start,
                            "tenant": "default", "service": "db", "env": "prod", "host": "db-1", "name": "mem",
                            "type": "gauge", "value": 99.0, "unit": "", "labels": {}, "attributes": {}}))
    load(ch, items)
    for method in ("method: ewma\nalpha: 0.1\n", "method: robust\nhistory: 50\n"):
        rule = compile_rule("kind: anomaly\nsource: metrics\nfilter: name == 'cpu'\ngroup_by: [host]\nvalue: value\n"
                            "min_samples: 20\nthreshold: 4\nfor: 15s\n" + method)
        want = in_stream(rule, items)
        assert len(want) >= 3, (method, want)
        assert_agree(backtest(ch, rule, "1d"), want, method)
