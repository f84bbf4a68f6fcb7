"""anomaly: the evaluator's baselines and lifecycle, replayed with arrayFold.

Stages (CTEs of one query):
  items    one row per item the rule accepts, with its value (NULL / non-finite dropped)
  points   one point per group and rollup window: the window's series combined
           (sum / avg / max / min; only 60 s windows are stored); a raw metric sample
           is a point of its own (of samples with the same ts, the lowest event id)
  flushed  when the stream scores each point: a window is scored when the group's next
           window arrives (at its end), or by the timer two window lengths after its end,
           whichever comes first; `f` is that time (the state's `seen_at`) and `_tick`
           says the timer did it, which decides who wins a tie with the stale timer
  fold     per group, points in event-time order through the same arithmetic as
           streams/detect/baselines.py (score before add, warm-up, min_deviation,
           anomalous points clipped into the band; EWMA at a tenth of the weight) and
           the pending / firing / resolved bookkeeping of evaluators.base.Lifecycle,
           including the stale resolution ("no data", `stale_after` after `seen_at`).
           Seasonal slots are independent of each other, so the seasonal baseline is
           folded per (group, slot) first and the lifecycle per group afterwards.

Every stored point of the group is replayed (the baseline is rebuilt from all the
history the tables keep, as in a stream that ran all along); only intervals that
overlap `since` are listed.
"""

from __future__ import annotations

from streams.detect.evaluators.anomaly import AnomalyEvaluator
from streams.detect.sql.exprs import ExprSql, SqlUnsupported, quote
from streams.detect.sql.rollups import WINDOW_S
from streams.detect.sql.stateful import _nullable, _Source

HISTORY_S = 400 * 86400  # more than any table keeps: the whole stored history feeds the baseline
F = "Float64"
_OUT = f"Array(Tuple({F}, {F}, Nullable({F}), String, {F}, {F}, Nullable({F})))"
_CUR = f"Tuple({F}, {F}, {F}, {F}, Nullable({F}))"


def _f(value: float) -> str:
    return f"toFloat64({quote(float(value))})"


def _z(x: str, center: str, scale: str) -> str:
    """baselines._z: (x - center) / scale, or 0 / +-inf when the spread is (almost) zero."""
    return f"multiIf({scale} > 1e-12, ({x} - {center}) / {scale}, {x} = {center}, 0., {x} > {center}, inf, -inf)"


def _let(bindings: list[tuple[str, str]], body: str) -> str:
    """Bind names to values once (a one-element arrayMap): the step would repeat them otherwise,
    and ClickHouse bounds the size of a query's syntax tree."""
    for name, value in reversed(bindings):
        body = f"arrayMap({name} -> {body}, [{value}])[1]"
    return body


class _Scoring:
    """SQL of AnomalyEvaluator._point for the point `x`: each method returns the let-bindings that
    compute it and the new baseline state; the bindings name `l_c` (center), `l_z` (z-score) and
    `l_a` (anomalous)."""

    def __init__(self, rule: AnomalyEvaluator, x: str):
        self.m, self.x = rule.m, x

    def _judge(self, center: str, scale: str, ready: str) -> list[tuple[str, str]]:
        m = self.m
        beyond = {"up": f"l_z >= {_f(m.threshold)}", "down": f"l_z <= -{_f(m.threshold)}",
                  "both": f"abs(l_z) >= {_f(m.threshold)}"}[m.direction]
        return [("l_c", center), ("l_sc", scale), ("l_z", _z(self.x, "l_c", "l_sc")),
                ("l_a", f"toUInt8({ready} AND {beyond} AND abs({self.x} - l_c) >= {_f(m.min_deviation)})"),
                # anomalous points enter clipped to the threshold band (not for robust)
                ("l_x", f"if(l_a, least(greatest({self.x}, l_c - {_f(m.threshold)} * l_sc), "
                        f"l_c + {_f(m.threshold)} * l_sc), {self.x})")]

    def ewma(self, b: str) -> tuple[list[tuple[str, str]], str]:
        """b = (n, mean, var)."""
        lets = self._judge(f"if({b}.1 = 0, {self.x}, {b}.2)", f"if({b}.1 = 0, 0., sqrt(greatest({b}.3, 0.)))",
                           f"{b}.1 >= {self.m.min_samples}")
        lets += [("l_al", f"{_f(self.m.alpha)} * if(l_a, 0.1, 1.)"), ("l_d", f"l_x - {b}.2"), ("l_i", "l_al * l_d")]
        return lets, f"if({b}.1 = 0, (1., l_x, 0.), ({b}.1 + 1, {b}.2 + l_i, (1 - l_al) * ({b}.3 + l_d * l_i)))"

    def robust(self, b: str) -> tuple[list[tuple[str, str]], str]:
        """b = the last `history` values; median / MAD (statistics.median: mean of the middle pair)."""
        def median(arr: str) -> str:
            return (f"if(length({arr}) % 2 = 1, {arr}[intDiv(length({arr}), 2) + 1], "
                    f"({arr}[intDiv(length({arr}), 2)] + {arr}[intDiv(length({arr}), 2) + 1]) / 2)")
        lets = [("l_s", f"arraySort({b})"), ("l_m", median("l_s")),
                ("l_dev", f"arraySort(arrayMap(v -> abs(v - l_m), {b}))")]
        lets += self._judge(f"if(empty({b}), {self.x}, l_m)", f"if(empty({b}), 0., 1.4826 * {median('l_dev')})",
                            f"length({b}) >= {self.m.min_samples}")
        return lets, f"arraySlice(arrayPushBack({b}, {self.x}), -{self.m.history})"  # the raw value, unclipped

    def seasonal(self, s: str, season_index: str) -> tuple[list[tuple[str, str]], str]:
        """s = (base n, mean, m2, seasons, cur n, mean, m2, cur season, ...) of one slot; the new state is
        returned as its first eight fields, without parentheses. A new season folds `cur` into `base`."""
        lets = [("l_si", season_index), ("l_roll", f"{s}.8 != l_si AND {s}.5 > 0")]
        merged = _merge(f"{s}.1", f"{s}.2", f"{s}.3", f"{s}.5", f"{s}.6", f"{s}.7")
        lets += [("l_b", f"if(l_roll, ({', '.join(merged)}), ({s}.1, {s}.2, {s}.3))"),
                 ("l_seasons", f"{s}.4 + l_roll"),
                 ("l_cur", f"if({s}.8 != l_si, (0., 0., 0.), ({s}.5, {s}.6, {s}.7))")]
        lets += self._judge("if(l_b.1 = 0, " + self.x + ", l_b.2)", "if(l_b.1 > 1, sqrt(l_b.3 / (l_b.1 - 1)), 0.)",
                            f"l_b.1 >= {self.m.min_samples} AND l_seasons >= {self.m.min_seasons}")
        cur = _merge("l_cur.1", "l_cur.2", "l_cur.3", "1.", "l_x", "0.")
        return lets, f"l_b.1, l_b.2, l_b.3, l_seasons, {', '.join(cur)}, l_si"


def _merge(na: str, ma: str, m2a: str, nb: str, mb: str, m2b: str) -> tuple[str, str, str]:
    """baselines._merge (Chan et al.), same operation order; n > 0 whenever it is used."""
    n = f"({na} + {nb})"
    delta = f"({mb} - {ma})"
    return n, f"{ma} + {delta} * {nb} / {n}", f"{m2a} + {m2b} + {delta} * {delta} * {na} * {nb} / {n}"


def _lifecycle(state: str, e: str, holding: str, center: str, z: str, for_s: float, stale_s: float) -> str:
    """Lifecycle.stale then Lifecycle.update. state = (pending_since, firing, seen_at, current, out);
    e = (t, f, by_tick, x)."""
    stale = _f(stale_s)
    gone = f"{state}.2 AND ({e}.2 - {state}.3 > {stale} OR ({e}.2 - {state}.3 = {stale} AND NOT {e}.3))"
    closed = (f"arrayPushBack({state}.5, ({state}.4.1, {state}.4.2, {state}.3 + {stale}, 'no data', {state}.4.3, "
              f"{state}.4.4, {state}.4.5))")
    lets = [("g_gone", gone), ("g_firing", f"if(g_gone, 0, {state}.2)"),
            ("g_out", f"if(g_gone, {closed}, {state}.5)"),
            ("g_since", f"if(g_gone, {e}.1, ifNull({state}.1, {e}.1))"),
            ("g_fire", f"NOT g_firing AND {e}.1 - g_since >= {_f(for_s)}")]
    current = f"CAST((g_since, {e}.1, {e}.4, {center}, if(isFinite({z}), {z}, NULL)), '{_CUR}')"
    resolved = (f"arrayPushBack(g_out, ({state}.4.1, {state}.4.2, {e}.1, 'condition', {state}.4.3, {state}.4.4, "
                f"{state}.4.5))")
    held = f"(CAST(g_since, 'Nullable({F})'), toUInt8(g_firing OR g_fire), {e}.2, if(g_fire, {current}, {state}.4), g_out)"
    dropped = f"(CAST(NULL, 'Nullable({F})'), toUInt8(0), {e}.2, {state}.4, if(g_firing, {resolved}, g_out))"
    return _let(lets, f"if({holding}, {held}, {dropped})")


def _init_lifecycle() -> str:
    return (f"(CAST(NULL, 'Nullable({F})'), toUInt8(0), toFloat64(0), CAST((0, 0, 0, 0, NULL), '{_CUR}'), "
            f"CAST([], '{_OUT}'))")


def _finish(state: str, stale_s: float) -> str:
    """The intervals, with the one still open resolved 'no data' if the group has been silent since."""
    stale = _f(stale_s)
    silent = f"toFloat64(now()) - {state}.3 >= {stale}"
    open_ = (f"({state}.4.1, {state}.4.2, if({silent}, {state}.3 + {stale}, NULL), if({silent}, 'no data', ''), "
             f"{state}.4.3, {state}.4.4, {state}.4.5)")
    return f"if({state}.2, arrayPushBack({state}.5, {open_}), {state}.5)"


def anomaly_sql(rule: AnomalyEvaluator, since_s: float, database: str) -> str:
    if rule.value is None:
        raise SqlUnsupported("the rule has no valid value expression")
    m = rule.m
    src = _Source(rule, database, since_s + HISTORY_S)
    g = "".join(f"{c}, " for c in src.group_cols)
    part = f"PARTITION BY {', '.join(src.group_cols) or '1'}"
    value = _nullable(ExprSql(src.columns).numeric(rule.value.root))
    if m.source == "rollups":
        items = src.items(rule, [f"{value} AS _x", "window_start AS _ws"])
        combine = {"sum": "sum(_x)", "avg": "sum(_x) / count()", "max": "max(_x)", "min": "min(_x)"}[m.combine]
        combine = f"ifNull({combine}, 0.)"  # never NULL (items without a value are dropped): a plain Float64
        points = f"SELECT {g}_ws + {WINDOW_S} AS t, toFloat64(_ws) AS slot_t, {combine} AS x FROM items GROUP BY {g}_ws"
        wait = max(2 * WINDOW_S, 60)  # AnomalyEvaluator.on_tick: max(2 * window, MIN_WAIT)
        flushed = (f"SELECT *, least(ifNull(_next, inf), t + {wait}) AS f, "
                   f"toUInt8(ifNull(_next - t >= {wait}, 1)) AS _tick FROM (SELECT *, toFloat64(t) AS t, "
                   f"leadInFrame(toNullable(toFloat64(t)), 1) OVER ({part} ORDER BY t ROWS BETWEEN CURRENT ROW "
                   f"AND 1 FOLLOWING) AS _next FROM points)")
    else:
        items = src.items(rule, [f"{value} AS _x", "toString(event_id) AS _id"])
        points = f"SELECT {g}t, t AS slot_t, ifNull(argMin(_x, _id), 0.) AS x FROM items GROUP BY {g}t"
        flushed = "SELECT *, t AS f, toUInt8(0) AS _tick FROM points"
    items += " AND _x IS NOT NULL AND isFinite(_x)"  # the evaluator skips items without a finite value
    for_s, stale_s = m.for_, rule.stale_after
    score = _Scoring(rule, "e.4")
    point = "groupArray((t, f, _tick, x, slot_t))"
    group_by = f" GROUP BY {', '.join(src.group_cols)}" if src.group_cols else ""
    if m.method in ("ewma", "robust"):
        lets, new = score.ewma("s.1") if m.method == "ewma" else score.robust("s.1")
        init_b = "(0., 0., 0.)" if m.method == "ewma" else f"CAST([], 'Array({F})')"
        step = _let(lets, f"({new}, {_lifecycle('s.2', 'e', 'l_a', 'l_c', 'l_z', for_s, stale_s)})")
        fold = f"arrayFold((s, e) -> {step}, arraySort(p -> p.1, {point}), ({init_b}, {_init_lifecycle()})).2"
        folded = f"SELECT {g}{_finish('l_end', stale_s)} AS intervals FROM (SELECT {g}{fold} AS l_end FROM flushed{group_by})"
        ctes = [("items", items), ("points", points), ("flushed", flushed), ("folded", folded)]
    else:
        lets, state = score.seasonal("s", f"floor(e.5 / {_f(m.season)})")
        scored_point = "(e.1, e.2, e.3, e.4, l_a, l_c, if(isFinite(l_z), l_z, NULL))"
        step = _let(lets, f"({state}, arrayPushBack(s.9, {scored_point}))")
        init = (f"(0., 0., 0., 0., 0., 0., 0., -1., CAST([], 'Array(Tuple({F}, {F}, UInt8, {F}, UInt8, {F}, "
                f"Nullable({F})))'))")
        slot = f"floor((slot_t % {_f(m.season)}) / {_f(m.bucket)})"
        scored = (f"SELECT {g}p.1 AS t, p.2 AS f, p.3 AS _tick, p.4 AS x, p.5 AS _h, p.6 AS _c, p.7 AS _z "
                  f"FROM (SELECT {g}arrayFold((s, e) -> {step}, arraySort(p -> p.1, {point}), {init}).9 AS ps "
                  f"FROM flushed GROUP BY {g}{slot}) ARRAY JOIN ps AS p")
        lifecycle = _lifecycle("s", "e", "e.5", "e.6", "e.7", for_s, stale_s)
        fold = (f"arrayFold((s, e) -> {lifecycle}, arraySort(p -> p.1, groupArray((t, f, _tick, x, _h, _c, _z))), "
                f"{_init_lifecycle()})")
        folded = f"SELECT {g}{_finish('l_end', stale_s)} AS intervals FROM (SELECT {g}{fold} AS l_end FROM scored{group_by})"
        ctes = [("items", items), ("points", points), ("flushed", flushed), ("scored", scored), ("folded", folded)]
    with_ = ",\n".join(f"{name} AS (\n  {sql}\n)" for name, sql in ctes)
    cutoff = f"toFloat64(now()) - {int(since_s)}"
    return (
        f"WITH {with_}\n"
        f"SELECT {g}toDateTime64(i.1, 3, 'UTC') AS started, toDateTime64(i.2, 3, 'UTC') AS fired, "
        f"toDateTime64(i.3, 3, 'UTC') AS resolved, i.4 AS resolved_by, i.5 AS value, i.6 AS baseline, "
        f"round(i.7, 4) AS z\nFROM folded ARRAY JOIN intervals AS i\n"
        f"WHERE i.3 IS NULL OR i.3 >= {cutoff} ORDER BY fired, started"
    )

