"""Canary analysis statistics: Mann-Whitney U, Cliff's delta, and verdicts.

The approach is Kayenta's: for each metric, test whether the canary's sample
distribution differs from the baseline's with the Mann-Whitney U test (no
normality assumption; latency is anything but normal), and require an effect
size above a threshold so that a statistically significant but negligible
difference on a big sample does not block a release.

- U uses average ranks for ties; the p-value is the two-sided normal
  approximation with tie correction and continuity correction (what
  `scipy.stats.mannwhitneyu(..., method="asymptotic")` computes).
- Cliff's delta = P(canary > baseline) - P(canary < baseline) = 2U/(n*m) - 1,
  in [-1, 1]; |delta| of 0.147 / 0.33 / 0.474 are the usual small / medium / large.

Per metric: `fail` when the canary is worse (in the metric's bad direction),
significantly (p < alpha) and by a large enough effect; `marginal` when only one
of the two holds; `pass` otherwise (including "significantly better"); `nodata`
below `min_samples`. Overall score = 100 * (pass + 0.5 * marginal) / metrics with
data; any critical metric failing fails the canary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of the first sample: pairs where it is larger, ties counting 1/2
    z: float
    p_value: float  # two-sided
    delta: float  # Cliff's delta of the first sample against the second
    n1: int
    n2: int


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Average ranks (1-based) and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = rank
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    return ranks, ties


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> MannWhitney:
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    ranks, ties = _ranks(list(x) + list(y))
    r1 = sum(ranks[:n1])
    u = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    mu = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        z, p = 0.0, 1.0  # every value equal: no evidence of any difference
    else:
        diff = u - mu
        corrected = max(abs(diff) - 0.5, 0.0)
        z = math.copysign(corrected, diff) / math.sqrt(variance)
        p = min(1.0, math.erfc(abs(z) / math.sqrt(2)))
    return MannWhitney(u=u, z=z, p_value=p, delta=2 * u / (n1 * n2) - 1, n1=n1, n2=n2)


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    verdict: str  # pass | marginal | fail | nodata
    p_value: float | None
    delta: float | None
    canary_median: float | None
    baseline_median: float | None
    n_canary: int
    n_baseline: int

    def as_dict(self) -> dict:
        return asdict(self)


def _median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def judge_metric(name: str, canary: Sequence[float], baseline: Sequence[float], *, bad: str,
                 effect: float, alpha: float, min_samples: int) -> MetricVerdict:
    medians = (_median(canary), _median(baseline))
    if len(canary) < min_samples or len(baseline) < min_samples:
        return MetricVerdict(name, "nodata", None, None, *medians, len(canary), len(baseline))
    result = mann_whitney_u(canary, baseline)
    worse = {"increase": result.delta > 0, "decrease": result.delta < 0, "either": result.delta != 0}[bad]
    significant = result.p_value < alpha
    large = abs(result.delta) >= effect
    if worse and significant and large:
        verdict = "fail"
    elif worse and (significant or large):
        verdict = "marginal"
    else:
        verdict = "pass"
    return MetricVerdict(name, verdict, round(result.p_value, 6), round(result.delta, 4), *medians,
                         len(canary), len(baseline))


def overall_verdict(metrics: Sequence[MetricVerdict], critical: set[str], pass_score: float,
                    marginal_score: float) -> tuple[str, float | None]:
    """(pass | marginal | fail | inconclusive, score 0..100 or None)."""
    judged = [m for m in metrics if m.verdict != "nodata"]
    if not judged:
        return "inconclusive", None
    points = sum(1.0 if m.verdict == "pass" else 0.5 if m.verdict == "marginal" else 0.0 for m in judged)
    score = round(100 * points / len(judged), 2)
    if any(m.verdict == "fail" and m.name in critical for m in judged):
        return "fail", score
    if score >= pass_score:
        return "pass", score
    if score >= marginal_score:
        return "marginal", score
    return "fail", score
