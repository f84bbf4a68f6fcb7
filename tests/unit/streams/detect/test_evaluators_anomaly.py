from __future__ import annotations

import json
import random
import statistics

import pytest

from streams.detect import baselines
from tests.unit.streams.detect.helpers import compile_problems, compile_rule, rollup, run


def anomaly(method: str, extra: str = "", min_samples: int = 20) -> str:
    return f"""\
kind: anomaly
source: rollups
filter: family == "log"
group_by: [series.service]
value: errors
method: {method}
min_samples: {min_samples}
threshold: 4
{extra}"""


def series(values, start=0):
    return [rollup(start + i, errors=v) for i, v in enumerate(values)]


@pytest.mark.parametrize("method", ["ewma", "robust", "seasonal"])
def test_cold_start_never_pages(method):
    rng = random.Random(3)
    wild = [rng.choice([0, 1, 5000, 3, 90000, 2]) for _ in range(19)] + [10**7]
    rule = compile_rule(anomaly(method, "min_seasons: 1\n"))
    state, alerts = run(rule, series(wild) + [{"tick": 10_000}])
    assert alerts == []
    assert json.loads(json.dumps(state)) == state


@pytest.mark.parametrize("method", ["ewma", "robust"])
def test_spike_after_warm_up_fires_once_and_resolves(method):
    normal = [10, 12, 9, 11, 10, 13, 8, 10, 12, 11] * 3
    rule = compile_rule(anomaly(method))
    _, alerts = run(rule, series(normal + [80, 10, 11]) + [{"tick": 10_000}])
    assert [(a["status"], a["ts"]) for a in alerts] == [("firing", 31 * 60.0), ("resolved", 32 * 60.0)]
    values = alerts[0]["values"]
    assert values["value"] == 80 and values["z"] > 4 and values["samples"] == 30 and values["method"] == method


def test_direction_down_ignores_spikes_and_catches_drops():
    normal = [100, 104, 98, 101, 99, 102, 97, 100] * 4
    rule = compile_rule(anomaly("ewma", "direction: down\n"))
    _, up = run(rule, series(normal + [400, 100]))
    _, down = run(rule, series(normal + [10, 100]))
    assert up == []
    assert [a["values"]["value"] for a in down] == [10]


def test_zero_spread_baseline_needs_min_deviation():
    flat = [0] * 25
    loose = compile_rule(anomaly("robust"))
    strict = compile_rule(anomaly("robust", "min_deviation: 5\n"))
    _, alerts = run(loose, series(flat + [1, 0]))
    assert [a["values"]["z"] for a in alerts[:1]] == [None]  # infinite z is reported as null (JSON)
    assert run(strict, series(flat + [1, 0]))[1] == []
    assert [a["values"]["value"] for a in run(strict, series(flat + [9, 0]))[1]][:1] == [9]


def test_incident_does_not_hide_itself_by_inflating_the_ewma_variance():
    normal = [1000, 1010, 990, 1005, 995] * 8
    rule = compile_rule(anomaly("ewma", "direction: down\n"))
    _, alerts = run(rule, series(normal + [200] * 10))
    assert [a["status"] for a in alerts] == ["firing"]  # still firing after ten bad minutes


def test_windows_combine_series_and_late_windows_are_ignored():
    rule = compile_rule(anomaly("robust", "combine: max\n"))
    items = []
    for minute in range(25):
        items += [rollup(minute, errors=10, series={"service": "api", "host": "a"}),
                  rollup(minute, errors=11, series={"service": "api", "host": "b"})]
    items += [rollup(3, errors=5000), rollup(25, errors=11), rollup(26, errors=11)]
    state, alerts = run(rule, items)
    assert alerts == []
    assert state["baseline"]["values"][-3:] == [11.0, 11.0, 11.0]


def test_seasonal_needs_completed_seasons_and_compares_the_same_slot():
    rule = compile_rule(anomaly("seasonal", "season: 1h\nbucket: 10m\nmin_seasons: 2\n", min_samples=10))
    week = []
    # Slot 0 (minutes 0-9 of each hour) is busy, slot 1 is quiet: 3 "seasons" of 20 minutes of data.
    for hour in range(3):
        week += series([100, 104, 96, 101, 99, 103, 97, 100, 102, 98], start=hour * 60)
        week += series([5, 6, 4, 5, 6, 4, 5, 5, 6, 4], start=hour * 60 + 10)
    state, alerts = run(rule, week)
    assert alerts == []  # busy slot-0 minutes are normal for slot 0
    _, alerts = run(rule, series([100, 6, 5], start=3 * 60 + 10), state)
    # 100 in the quiet slot is anomalous; the next normal minute resolves it.
    assert [(a["status"], a["values"]["value"]) for a in alerts] == [("firing", 100), ("resolved", 6)]


def test_robust_min_samples_above_history_is_a_lint_problem():
    assert compile_problems(anomaly("robust", "history: 10\n")) == [
        "12:14: min_samples (20) is above history (10): the baseline would never warm up"]


def test_baseline_math():
    values = [3.0, 7.0, 7.0, 19.0, 24.0]
    state: dict = {}
    for v in values:
        baselines.robust_add(state, v, history=100)
    z, center, scale, n = baselines.robust_score(state, 37.0)
    assert (center, n) == (7.0, 5)
    assert scale == pytest.approx(1.4826 * 4.0)  # deviations 4,0,0,12,17 -> MAD 4
    assert z == pytest.approx(30 / (1.4826 * 4))

    ewma: dict = {}
    for v in (10.0, 20.0):
        baselines.ewma_add(ewma, v, alpha=0.5)
    assert (ewma["mean"], ewma["var"]) == (15.0, 25.0)  # diff 10, incr 5: var = 0.5 * (0 + 10 * 5)

    seasonal: dict = {}
    first, second = [1.0, 2.0, 4.0], [10.0, 11.0]
    for v in first:
        baselines.seasonal_add(seasonal, v, t=5.0, season=100.0, bucket=50.0)
    for v in second:
        baselines.seasonal_add(seasonal, v, t=105.0, season=100.0, bucket=50.0)
    z, center, scale, n, seasons = baselines.seasonal_score(seasonal, 0.0, t=205.0, season=100.0, bucket=50.0)
    pooled = first + second
    assert (n, seasons) == (5, 2)
    assert center == pytest.approx(statistics.mean(pooled))
    assert scale == pytest.approx(statistics.stdev(pooled))
