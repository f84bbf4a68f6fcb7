"""threshold and ratio: conditions over rollups (or events) and their windows.

Items are usually merged rollups: `{"family", "window_start", "window_s",
"series": {...}, "count", "sum", "p99", "failures", "failure_ratio", ...}`. Field
access stays in the rule (`condition: failure_ratio > 0.05`), so the rollup shape
can change without code changes. A raw event is a bucket of width 0 at its `ts`.

Windows are kept as buckets keyed by (`window_start`, series): a re-emitted
window of a series (a late partial merged in) replaces its bucket instead of
counting twice, while several series in one group (card and SEPA payments of one
provider) each keep their own bucket and add up.
Time is event time: a window ends at the newest bucket end seen (the watermark).

- threshold: `condition` sees the current item; `sum_over(x, "1h")`,
  `avg_over`, `min_over`, `max_over`, `count_over` aggregate the per-bucket value
  of `x` over the window (default: the rule's `window`).
- ratio: `ratio = sum(numerator) / sum(denominator)` over `window`, plus
  `ratio_<name>` for each extra window (multi-window SLO burn rates); a
  denominator below `min_denominator` makes the ratio null, so low traffic
  cannot page.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect import expr_ast as ast
from streams.detect.durations import parse_duration
from streams.detect.evaluators.base import (
    Alert,
    CompileContext,
    CompiledRule,
    Lifecycle,
    State,
    item_time,
    series_key,
)
from streams.detect.expr import Expr
from streams.detect.model import RatioRule, ThresholdRule

MAX_BUCKETS = 2000
MIN_STALE = 900.0


def _bucket_bounds(item: Mapping) -> tuple[float, float]:
    end = item_time(item)
    if "window_start" in item:
        start = ast.to_number(item.get("window_start"))
        return float(start or 0.0), end
    return end, end


def _store(state: State, item: Mapping, values: list, horizon: float) -> float:
    """Insert/replace the item's bucket, drop what left the longest window; return the watermark."""
    start, end = _bucket_bounds(item)
    key = series_key(item)
    buckets = [b for b in state.get("buckets", []) if b[0] != start or b[2] != key]
    buckets.append([start, end, key, values])
    buckets.sort(key=lambda b: b[0])
    watermark = max(end, state.get("watermark") or end)
    buckets = [b for b in buckets if b[1] > watermark - horizon][-MAX_BUCKETS:]
    state["buckets"] = buckets
    state["watermark"] = watermark
    return watermark


def _accumulate(state: State, item: Mapping, values: list, horizon: float) -> float:
    """Add the item's numbers to its window's bucket, drop what left the longest window;
    return the watermark. Ratios only need sums, so one bucket per window however many
    series (merchants x currencies ...) contribute: the state stays a few buckets
    instead of one per series, which every changelog write would carry."""
    start, end = _bucket_bounds(item)
    buckets = state.get("buckets", [])
    for bucket in buckets:
        if bucket[0] == start and bucket[1] == end:
            bucket[3] = [y if x is None else x if y is None else x + y for x, y in zip(bucket[3], values, strict=True)]
            break
    else:
        buckets.append([start, end, "", values])
        buckets.sort(key=lambda b: b[0])
    watermark = max(end, state.get("watermark") or end)
    state["buckets"] = [b for b in buckets if b[1] > watermark - horizon][-MAX_BUCKETS:]
    state["watermark"] = watermark
    return watermark


def _in_window(state: State, watermark: float, window: float) -> list[list]:
    return [b for b in state["buckets"] if b[1] > watermark - window or b[1] == watermark]


def _numbers(values: list) -> list[float]:
    return [float(v) for v in values if v is not None]


def _aggregate(name: str, values: list) -> float | int | None:
    present = _numbers(values)
    if name == "count_over":
        return len(present)
    if not present:
        return None
    if name == "sum_over":
        return sum(present)
    if name == "avg_over":
        return sum(present) / len(present)
    if name == "min_over":
        return min(present)
    return max(present)


def _first_comparison_left(root: ast.Node) -> ast.Node | None:
    for node in ast.walk(root):
        if isinstance(node, ast.Binary) and node.op in ast.COMPARISONS:
            return node.left
    return None


class ThresholdEvaluator(CompiledRule):
    kind = "threshold"
    stateful = True

    def __init__(self, model: ThresholdRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.for_s = model.for_
        self.condition = ctx.expr(model.condition, ("condition",), allow_window=True)
        self.value_expr: Expr | ast.Node | None = None
        if model.value is not None:
            self.value_expr = ctx.expr(model.value, ("value",), allow_window=True)
        elif self.condition is not None:
            self.value_expr = _first_comparison_left(self.condition.root)
        # One slot per window aggregate call: (call node, per-bucket argument, window seconds).
        self.slots: list[tuple[ast.Call, ast.Node, float]] = []
        for expr, path in ((self.condition, ("condition",)), (self.value_expr, ("value",))):
            if isinstance(expr, Expr):
                self._collect_slots(expr, path, ctx)
        self.horizon = max([w for _, _, w in self.slots], default=0.0)
        self.stale_after = max(3 * (model.window or 0.0), 3 * self.for_s, MIN_STALE)

    def _collect_slots(self, expr: Expr, path: tuple, ctx: CompileContext) -> None:
        for node in ast.walk(expr.root):
            if isinstance(node, ast.Call) and node.spec.window:  # type: ignore[attr-defined]
                if len(node.args) > 1:
                    window = parse_duration(node.args[1].value)  # type: ignore[attr-defined]
                elif self.model.window:
                    window = self.model.window
                else:
                    ctx.problem(path, f"{node.name}() needs a window: pass one (e.g. {node.name}(x, \"5m\")) or set window:",
                                offset=node.pos)
                    continue
                for inner in ast.walk(node.args[0]):
                    if isinstance(inner, ast.Call) and inner.spec.window:  # type: ignore[attr-defined]
                        ctx.problem(path, f"{inner.name}() cannot be nested inside {node.name}()", offset=inner.pos)
                self.slots.append((node, node.args[0], window))

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        if self.condition is None:
            return []
        slot_values: dict = {}
        t = item_time(item)
        if self.slots:
            per_bucket = [_safe_number(arg, item) for _, arg, _ in self.slots]
            t = _store(state, item, per_bucket, self.horizon)
            for index, (call, _, window) in enumerate(self.slots):
                bucket_values = [b[3][index] for b in _in_window(state, t, window)]
                slot_values[call] = _aggregate(call.name, bucket_values)
        holding = self.condition.test(item, slot_values)
        value = _value(self.value_expr, item, slot_values)
        values = {"value": value}
        return Lifecycle.update(self, state, holding, t, now, self.for_s, value, values, _ids(item))

    def on_tick(self, state: State, now: float) -> list[Alert]:
        return Lifecycle.stale(self, state, now, self.stale_after)


class RatioEvaluator(CompiledRule):
    kind = "ratio"
    stateful = True

    def __init__(self, model: RatioRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.for_s = model.for_
        self.numerator = ctx.expr(model.numerator, ("numerator",))
        self.denominator = ctx.expr(model.denominator, ("denominator",))
        # The condition reads ratio/numerator/denominator, not only event fields.
        self.condition = ctx.expr(model.condition, ("condition",), reads=None)
        self.windows = {"": model.window, **{f"_{name}": seconds for name, seconds in model.windows.items()}}
        self.horizon = max(self.windows.values())
        self.stale_after = max(3 * model.window, 3 * self.for_s, MIN_STALE)
        if self.condition is not None:
            known = {"ratio", "numerator", "denominator"} | {f"{k}{s}" for s in self.windows for k in ("ratio", "numerator", "denominator")}
            for keys in self.condition.paths():
                if str(keys[0]).startswith(("ratio", "numerator", "denominator")) and keys[0] not in known:
                    ctx.problem(("condition",), f"{keys[0]!r} is not defined; windows are: "
                                f"{', '.join('ratio' + s for s in self.windows)}")

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        if self.numerator is None or self.denominator is None or self.condition is None:
            return []
        t = _accumulate(state, item, [_safe_number(self.numerator, item), _safe_number(self.denominator, item)],
                        self.horizon)
        context = dict(item)
        for suffix, window in self.windows.items():
            buckets = _in_window(state, t, window)
            num = sum(_numbers([b[3][0] for b in buckets]))
            den = sum(_numbers([b[3][1] for b in buckets]))
            ratio = num / den if den > 0 and den >= self.model.min_denominator else None
            context.update({f"ratio{suffix}": ratio, f"numerator{suffix}": num, f"denominator{suffix}": den})
        holding = self.condition.test(context)
        values = {k: context[k] for k in context if k.startswith(("ratio", "numerator", "denominator"))}
        return Lifecycle.update(self, state, holding, t, now, self.for_s, context["ratio"], values, _ids(item))

    def on_tick(self, state: State, now: float) -> list[Alert]:
        return Lifecycle.stale(self, state, now, self.stale_after)


def _safe_number(expr: Expr | ast.Node, item: Mapping) -> float | None:
    value = _value(expr, item, None)
    number = ast.to_number(value)
    return None if number is None else float(number)


def _value(expr: Expr | ast.Node | None, item: Mapping, slots: dict | None) -> object:
    if expr is None:
        return None
    node = expr.root if isinstance(expr, Expr) else expr
    try:
        return node.evaluate(item, slots)
    except ast.EvalError:
        return None


def _ids(item: Mapping) -> list[str]:
    event_id = item.get("event_id")
    return [event_id] if isinstance(event_id, str) and event_id else []
