"""Baselines for anomaly rules, each a JSON-serializable dict updated in place.

Every baseline answers `score(state, x) -> (z, center, scale, samples)` *before*
the point is added, so a point is never compared with itself, and `add(state, x)`.
The caller enforces warm-up: `samples` below the rule's minimum means no verdict.

- EWMA: exponentially weighted mean and variance (West / Finch incremental form).
  Cheap and adaptive; a long incident slowly becomes the new normal.
- robust: median and MAD of the last N points. One outlier cannot move the
  baseline, which matters for spiky series such as refunds or chargebacks.
- seasonal: mean and variance of the same slot (hour of week by default) over
  previous seasons. The current season's points are folded in when the season
  changes, so this week's incident is not part of this week's baseline.
"""

from __future__ import annotations

import math
import statistics

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
TINY = 1e-12


def _z(x: float, center: float, scale: float) -> float:
    if scale > TINY:
        return (x - center) / scale
    if x == center:
        return 0.0
    return math.inf if x > center else -math.inf


# -- EWMA --------------------------------------------------------------------
def ewma_score(state: dict, x: float) -> tuple[float, float, float, int]:
    n = state.get("n", 0)
    if n == 0:
        return 0.0, x, 0.0, 0
    scale = math.sqrt(max(state["var"], 0.0))
    return _z(x, state["mean"], scale), state["mean"], scale, n


def ewma_add(state: dict, x: float, alpha: float) -> None:
    if state.get("n", 0) == 0:
        state.update(n=1, mean=x, var=0.0)
        return
    diff = x - state["mean"]
    increment = alpha * diff
    state["mean"] += increment
    state["var"] = (1 - alpha) * (state["var"] + diff * increment)
    state["n"] += 1


# -- robust (median / MAD) ---------------------------------------------------
def robust_score(state: dict, x: float) -> tuple[float, float, float, int]:
    values = state.get("values", [])
    if not values:
        return 0.0, x, 0.0, 0
    median = statistics.median(values)
    scale = MAD_TO_SIGMA * statistics.median(abs(v - median) for v in values)
    return _z(x, median, scale), median, scale, len(values)


def robust_add(state: dict, x: float, history: int) -> None:
    values = state.setdefault("values", [])
    values.append(x)
    del values[:-history]


# -- seasonal ----------------------------------------------------------------
def _merge(a: list[float], b: list[float]) -> list[float]:
    """Chan et al.: combine (n, mean, M2) of two samples."""
    na, ma, m2a = a
    nb, mb, m2b = b
    n = na + nb
    if n == 0:
        return [0, 0.0, 0.0]
    delta = mb - ma
    return [n, ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n]


def _slot(state: dict, t: float, season: float, bucket: float) -> tuple[dict, int]:
    slot_index = int((t % season) // bucket)
    season_index = int(t // season)
    slots = state.setdefault("slots", {})
    slot = slots.setdefault(str(slot_index), {"base": [0, 0.0, 0.0], "seasons": 0, "cur": [0, 0.0, 0.0], "cur_season": season_index})
    if slot["cur_season"] != season_index:
        if slot["cur"][0] > 0:
            slot["base"] = _merge(slot["base"], slot["cur"])
            slot["seasons"] += 1
        slot["cur"] = [0, 0.0, 0.0]
        slot["cur_season"] = season_index
    return slot, season_index


def seasonal_score(state: dict, x: float, t: float, season: float, bucket: float) -> tuple[float, float, float, int, int]:
    """(z, center, scale, samples, completed seasons) of `x` against the same slot in past seasons."""
    slot, _ = _slot(state, t, season, bucket)
    n, mean, m2 = slot["base"]
    if n == 0:
        return 0.0, x, 0.0, 0, slot["seasons"]
    std = math.sqrt(m2 / (n - 1)) if n > 1 else 0.0
    return _z(x, mean, std), mean, std, n, slot["seasons"]


def seasonal_add(state: dict, x: float, t: float, season: float, bucket: float) -> None:
    slot, _ = _slot(state, t, season, bucket)
    slot["cur"] = _merge(slot["cur"], [1, x, 0.0])
