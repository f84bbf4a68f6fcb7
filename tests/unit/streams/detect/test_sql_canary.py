"""Backtest SQL of canary rules agrees with the stream evaluator.

Random deployments (some replaced by a newer one before their analysis ends) and
metric samples tagged with deployment groups go into chDB (`deployments`, `metrics`)
and through streams.detect.engine.Engine; each verdict both report must be the same:
verdict, score, version, and per metric the verdict, p-value, Cliff's delta, medians
and sample counts.
"""

from __future__ import annotations

import random

import pytest

from streams.detect.canary import mann_whitney_u
from tests.unit.streams.detect.backtest_harness import (
    assert_agree,
    backtest,
    in_stream,
    load,
    raw_event,
    recent,
)

RULE = """\
kind: canary
source: deployments
filter: env == "prod"
group_by: [service]
analysis: 10m
min_samples: 8
max_samples: 15
alpha: 0.05
pass_score: 90
marginal_score: 40
alert_on: [fail, marginal, inconclusive]
metrics:
  - {name: latency, filter: 'name == "latency"', bad: increase, effect: 0.33, critical: true}
  - {name: errors, filter: 'name == "errors"', bad: increase, effect: 0.2}
  - {name: throughput, filter: 'name == "rps"', value: value * 2, bad: decrease, effect: 0.4}
  - {name: saturation, filter: 'name == "cpu"', bad: either, effect: 0.3}
"""


def _metric(n: int, ts: float, service: str, name: str, value: float, group: str) -> dict:
    return raw_event({"kind": "metric", "event_id": f"m-{n}", "ts": ts, "observed_ts": ts, "tenant": "default",
                      "service": service, "env": "prod", "host": "h", "name": name, "type": "gauge",
                      "value": value, "unit": "", "labels": {"deployment_group": group}, "attributes": {}})


def _deployment(n: int, ts: float, service: str, version: str, env: str = "prod", groups: tuple = ("", "")) -> dict:
    return raw_event({"kind": "deployment", "event_id": f"d-{n}", "ts": ts, "tenant": "default", "service": service,
                      "env": env, "version": version, "canary_group": groups[0], "baseline_group": groups[1],
                      "actor": "ci", "description": ""})


def test_random_deployments_agree_with_the_engine(ch):
    rng = random.Random(17)
    start = recent(0.0) - 10 * 3600
    items, n = [], 0
    for service in ("checkout", "ledger", "payouts"):
        t = start
        for k in range(14):
            t += 60 * rng.choice([4, 11, 15, 30])  # 4 minutes: replaced by the next one before its end
            env = "staging" if k == 5 else "prod"
            groups = ("green", "blue") if k % 4 == 3 else ("", "")
            n += 1
            items.append(_deployment(n, t, service, f"1.{k}", env, groups))
            canary, baseline = groups[0] or "canary", groups[1] or "baseline"
            shift = {name: rng.choice([0.0, 0.0, 0.3, 1.0]) for name in ("latency", "errors", "rps", "cpu")}
            for _ in range(rng.randint(0, 260)):
                ts = t + rng.uniform(-30, 700)
                name = rng.choice(["latency", "errors", "rps", "cpu"])
                side = rng.choice([canary, baseline, "other"])
                value = round(rng.gauss(1.0, 0.3), 1)  # one decimal: many ties
                if side == canary:
                    value += shift[name] * (-1 if name == "rps" else 1)
                n += 1
                items.append(_metric(n, ts, service, name, value, side))
    load(ch, items)
    rule = _compile(RULE)
    want = in_stream(rule, items)
    verdicts = {w["verdict"] for w in want}
    assert verdicts == {"fail", "marginal", "inconclusive"}, verdicts
    metric_verdicts = {m["verdict"] for w in want for m in w["metrics"]}
    assert metric_verdicts == {"fail", "marginal", "nodata", "pass"}, metric_verdicts
    assert_agree(backtest(ch, rule, "1d"), want, "random canaries")
    # only the verdicts in alert_on are listed
    only_fail = _compile(RULE.replace("alert_on: [fail, marginal, inconclusive]", "alert_on: [fail]"))
    assert_agree(backtest(ch, only_fail, "1d"), [w for w in want if w["verdict"] == "fail"], "fail only")


def test_u_and_p_match_the_python_test_with_ties_and_equal_values(ch):
    """The SQL statistics on small samples with heavy ties and all-equal values, against mann_whitney_u."""
    rng = random.Random(2)
    start = recent(0.0) - 5 * 3600
    items, cases, n = [], [], 0
    for k in range(12):
        t = start + 900 * k
        n += 1
        items.append(_deployment(n, t, f"svc{k}", f"v{k}"))
        pick = [1.0] if k == 0 else [1.0, 2.0] if k < 6 else [1.0, 1.5, 2.0, 3.0, 4.0]
        c = [rng.choice(pick) + (0.5 if k % 3 == 0 and k else 0.0) for _ in range(rng.randint(8, 25))]
        b = [rng.choice(pick) for _ in range(rng.randint(8, 25))]
        for side, values in (("canary", c), ("baseline", b)):
            for value in values:
                n += 1
                items.append(_metric(n, t + 1 + n % 500, f"svc{k}", "latency", value, side))
        cases.append((f"svc{k}", c, b))
    load(ch, items)
    # nearly every canary is listed: any difference is "worse", almost any p "significant"
    rule = _compile(RULE.replace("alpha: 0.05", "alpha: 0.99").replace("max_samples: 15", "max_samples: 40")
                    .replace("bad: increase, effect: 0.33", "bad: either, effect: 0.33"))
    rows = {r["group"]["service"]: r for r in backtest(ch, rule, "1d")}
    assert len(rows) >= 9, rows
    for service, c, b in cases:
        if service not in rows:
            continue
        expected = mann_whitney_u(c, b)
        latency = rows[service]["metrics"][0]
        assert latency["p_value"] == round(expected.p_value, 6), (service, latency, expected)
        assert latency["delta"] == round(expected.delta, 4), (service, latency, expected)
    assert_agree(backtest(ch, rule, "1d"), in_stream(rule, items), "ties")
    # ClickHouse's own mannWhitneyUTest gives the same U and (to the last bit or so) the same p,
    # except when |U - n1*n2/2| < 0.5: its continuity correction then goes negative where the
    # Python clamps it to 0 (p = 1). Hence U and p are computed from ranks in the SQL.
    def clickhouse(c: list[float], b: list[float]) -> tuple[float, float]:
        rows = ", ".join([f"({v}, 0)" for v in c] + [f"({v}, 1)" for v in b])
        sql = (f"SELECT tupleElement(mannWhitneyUTest('two-sided')(t.1, t.2) AS r, 1), tupleElement(r, 2) "
               f"FROM (SELECT arrayJoin([{rows}]) AS t)")
        u, p = ch.query(sql, "CSV").bytes().decode().strip().split(",")
        return float(u), float(p)

    _service, c, b = cases[7]
    assert clickhouse(c, b)[0] == mann_whitney_u(c, b).u
    assert clickhouse(c, b)[1] == pytest.approx(mann_whitney_u(c, b).p_value, rel=1e-12)
    even = [1.0, 2.0] * 5
    assert mann_whitney_u(even, even).p_value == 1.0 and clickhouse(even, even)[1] < 0.97


def _compile(body: str):
    from tests.unit.streams.detect.helpers import compile_rule

    return compile_rule(body)
