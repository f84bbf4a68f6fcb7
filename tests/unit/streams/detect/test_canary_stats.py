from __future__ import annotations

import math
import random

import pytest

from streams.detect.canary import MetricVerdict, judge_metric, mann_whitney_u, overall_verdict


def brute_force_u(x, y):
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y)


def test_hand_computed_example_without_ties():
    # x entirely below y: U = 0, mean n*m/2 = 4.5, variance n*m*(N+1)/12 = 9*7/12 = 5.25,
    # z = -(4.5 - 0.5) / sqrt(5.25) = -1.745743 (continuity-corrected), p = 2 * (1 - Phi(1.7457)).
    result = mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert result.u == 0
    assert result.delta == -1
    assert result.z == pytest.approx(-1.745743, abs=1e-6)
    assert result.p_value == pytest.approx(0.080856, abs=1e-5)


def test_hand_computed_example_with_ties():
    # Combined sorted: 1x 2x 2x 2y 3x 3y 4y 5y -> ranks 1, 3, 3, 3, 5.5, 5.5, 7, 8.
    # R_x = 1 + 3 + 3 + 5.5 = 12.5, U = 12.5 - 4*5/2 = 2.5; ties (3 and 2 equal values):
    # sum(t^3 - t) = 24 + 6 = 30; variance = 16/12 * (9 - 30/56) = 11.285714;
    # z = -(8 - 2.5 - 0.5) / sqrt(11.285714) = -1.488351.
    # Cliff's delta: 1 pair with x > y, 12 with x < y, 3 ties: (1 - 12) / 16 = -0.6875.
    result = mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 5])
    assert result.u == 2.5
    assert result.delta == pytest.approx(-0.6875)
    assert result.z == pytest.approx(-1.488351, abs=1e-6)
    assert result.p_value == pytest.approx(math.erfc(1.488351 / math.sqrt(2)), abs=1e-6)


def test_u_matches_pair_counting_and_is_symmetric():
    rng = random.Random(7)
    for _ in range(50):
        x = [rng.randint(0, 9) for _ in range(rng.randint(1, 30))]
        y = [rng.randint(0, 9) for _ in range(rng.randint(1, 30))]
        forward, backward = mann_whitney_u(x, y), mann_whitney_u(y, x)
        assert forward.u == pytest.approx(brute_force_u(x, y))
        assert forward.u + backward.u == pytest.approx(len(x) * len(y))
        assert forward.p_value == pytest.approx(backward.p_value)
        assert forward.delta == pytest.approx(-backward.delta)


def test_identical_constant_samples_show_no_difference():
    result = mann_whitney_u([1.0] * 10, [1.0] * 10)
    assert (result.z, result.p_value, result.delta) == (0.0, 1.0, 0.0)


def _spread(center, n, rng):
    return [center + rng.gauss(0, center * 0.1) for _ in range(n)]


def test_metric_verdicts():
    rng = random.Random(1)
    baseline = _spread(100, 200, rng)
    worse = _spread(140, 200, rng)
    slightly_worse = _spread(103, 200, rng)
    better = _spread(60, 200, rng)
    args = {"effect": 0.3, "alpha": 0.05, "min_samples": 20}
    assert judge_metric("lat", worse, baseline, bad="increase", **args).verdict == "fail"
    # Significant on 200 samples, but a negligible effect: not a reason to roll back.
    assert judge_metric("lat", slightly_worse, baseline, bad="increase", **args).verdict in ("marginal", "pass")
    assert judge_metric("lat", better, baseline, bad="increase", **args).verdict == "pass"
    assert judge_metric("lat", better, baseline, bad="decrease", **args).verdict == "fail"
    assert judge_metric("lat", better, baseline, bad="either", **args).verdict == "fail"
    assert judge_metric("lat", worse[:5], baseline, bad="increase", **args).verdict == "nodata"
    # A large effect on few samples is not yet significant: marginal.
    assert judge_metric("lat", [2, 3, 4], [1, 2, 3], bad="increase", effect=0.3, alpha=0.05, min_samples=3).verdict == "marginal"


def _v(name, verdict):
    return MetricVerdict(name, verdict, None, None, None, None, 0, 0)


def test_overall_verdict_and_critical_metrics():
    assert overall_verdict([_v("a", "pass"), _v("b", "pass")], set(), 90, 50) == ("pass", 100.0)
    assert overall_verdict([_v("a", "pass"), _v("b", "marginal")], set(), 90, 50) == ("marginal", 75.0)
    assert overall_verdict([_v("a", "fail"), _v("b", "fail"), _v("c", "pass")], set(), 90, 50) == ("fail", 33.33)
    assert overall_verdict([_v("a", "fail"), _v("b", "pass"), _v("c", "pass")], {"a"}, 50, 10)[0] == "fail"
    assert overall_verdict([_v("a", "nodata")], set(), 90, 50) == ("inconclusive", None)
