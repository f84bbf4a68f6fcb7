"""anomaly: a value far from its own baseline (EWMA, median/MAD, or seasonal).

`value` is read from each rollup or metric sample of the group. Rollups are
combined per window first (`combine`, default sum: the group's refunds are the
sum over its card/SEPA/... series; each partial counts once, so a series split
across ingest workers past the merge grace adds up for sum and counts twice for avg),
and a window is scored when a later window arrives, or on `tick` once it has
waited two window lengths. A raw metric sample is a point of its own.

A point is scored against the baseline (`streams.detect.baselines`) before it is
added. Warm-up is enforced: until the baseline holds `min_samples` points (and,
for seasonal, `min_seasons` completed seasons) nothing is anomalous, so a cold
start or a brand-new series pages nobody. `min_deviation` adds an absolute
floor, so a count going from 0 to 2 on a flat series is not an incident.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from streams.detect import baselines
from streams.detect import expr_ast as ast
from streams.detect.evaluators.base import (
    Alert,
    CompileContext,
    CompiledRule,
    Lifecycle,
    State,
    item_time,
)
from streams.detect.model import AnomalyRule

MIN_STALE = 900.0
MIN_WAIT = 60.0
# Running combination of a window's series values: (accumulated, new value) -> accumulated.
# The state keeps one number per group and window, not one per series: it travels in
# every changelog write, and a payments group can have thousands of merchant series.
_COMBINE = {"sum": lambda a, x: a + x, "avg": lambda a, x: a + x, "max": max, "min": min}


class AnomalyEvaluator(CompiledRule):
    kind = "anomaly"
    stateful = True

    def __init__(self, model: AnomalyRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.m = model
        self.value = ctx.expr(model.value, ("value",))
        self.stale_after = max(3 * model.for_, MIN_STALE, 3 * model.bucket if model.method == "seasonal" else 0.0)
        if model.method == "robust" and model.min_samples > model.history:
            ctx.problem(("min_samples",), f"min_samples ({model.min_samples}) is above history ({model.history}): "
                        "the baseline would never warm up")

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        if self.value is None:
            return []
        try:
            x = ast.to_number(self.value.evaluate(item))
        except ast.EvalError:
            x = None
        if x is None or not math.isfinite(x):
            return []
        if "window_start" not in item:
            return self._point(state, float(x), item_time(item), now)
        start = float(ast.to_number(item.get("window_start")) or 0.0)
        alerts: list[Alert] = []
        pending = state.get("pending")
        if pending and start > pending["start"]:
            alerts = self._flush(state, now)
            pending = None
        if pending is None:
            if start <= state.get("last_start", -math.inf):
                return alerts  # a window already scored: counting it twice would shrink the spread
            pending = {"start": start, "end": item_time(item), "arrived": now, "acc": float(x), "n": 1}
        elif start < pending["start"]:
            return alerts
        else:
            pending["acc"] = _COMBINE[self.m.combine](pending["acc"], float(x))
            pending["n"] += 1
        state["pending"] = pending
        return alerts

    def on_tick(self, state: State, now: float) -> list[Alert]:
        pending = state.get("pending")
        alerts: list[Alert] = []
        if pending and now - pending["arrived"] >= max(2 * (pending["end"] - pending["start"]), MIN_WAIT):
            alerts = self._flush(state, now)
        return alerts + Lifecycle.stale(self, state, now, self.stale_after)

    def _flush(self, state: State, now: float) -> list[Alert]:
        pending = state.pop("pending")
        state["last_start"] = pending["start"]
        combined = pending["acc"] / pending["n"] if self.m.combine == "avg" else pending["acc"]
        return self._point(state, combined, pending["end"], now, slot_t=pending["start"])

    def _point(self, state: State, x: float, t: float, now: float, slot_t: float | None = None) -> list[Alert]:
        """Score and add one point; `t` is its (end) time, `slot_t` the time that picks its seasonal slot."""
        if t <= state.get("last_t", -math.inf):
            return []
        state["last_t"] = t
        slot_t = t if slot_t is None else slot_t
        base = state.setdefault("baseline", {})
        z, center, scale, samples, ready = self._score(base, x, slot_t)
        anomalous = ready and self._beyond(z) and abs(x - center) >= self.m.min_deviation
        x_in, weight = x, 1.0
        if anomalous and self.m.method != "robust":
            # An incident fed as-is into a mean/variance baseline inflates the
            # variance within minutes and hides itself. Anomalous points enter
            # clipped to the threshold band (and, for EWMA, with a tenth of the
            # weight), so a lasting level shift is still absorbed, slowly.
            # The median of the robust method needs none of this.
            limit = self.m.threshold * scale
            x_in, weight = min(max(x, center - limit), center + limit), 0.1
        self._add(base, x_in, slot_t, weight)
        values = {"value": x, "baseline": center, "z": _finite(z), "samples": samples, "method": self.m.method}
        return Lifecycle.update(self, state, anomalous, t, now, self.m.for_, x, values)

    def _score(self, base: dict, x: float, t: float) -> tuple[float, float, float, int, bool]:
        m = self.m
        if m.method == "ewma":
            z, center, scale, n = baselines.ewma_score(base, x)
            return z, center, scale, n, n >= m.min_samples
        if m.method == "robust":
            z, center, scale, n = baselines.robust_score(base, x)
            return z, center, scale, n, n >= m.min_samples
        z, center, scale, n, seasons = baselines.seasonal_score(base, x, t, m.season, m.bucket)
        return z, center, scale, n, n >= m.min_samples and seasons >= m.min_seasons

    def _add(self, base: dict, x: float, t: float, weight: float) -> None:
        m = self.m
        if m.method == "ewma":
            baselines.ewma_add(base, x, m.alpha * weight)
        elif m.method == "robust":
            baselines.robust_add(base, x, m.history)
        else:
            baselines.seasonal_add(base, x, t, m.season, m.bucket)

    def _beyond(self, z: float) -> bool:
        if self.m.direction == "up":
            return z >= self.m.threshold
        if self.m.direction == "down":
            return z <= -self.m.threshold
        return abs(z) >= self.m.threshold


def _finite(z: float) -> float | None:
    """JSON has no infinity: a zero-spread baseline reports z as null."""
    return round(z, 4) if math.isfinite(z) else None
