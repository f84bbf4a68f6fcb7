"""threshold and ratio: the evaluator's sliding windows and pending/firing/resolved
lifecycle as window functions over one row per (group, evaluation time).

Stages (CTEs of one query):
  items     one row per item: a raw event (t = ts) or a rebuilt rollup item (t = window end)
  steps     one row per group and t: the per-item values summed (ratio, window aggregates)
            or the condition required of every item (threshold without windows)
  windowed  sliding windows: RANGE BETWEEN (window - 1 unit) PRECEDING AND CURRENT ROW over t,
            which is the evaluator's "bucket end > t - window or == t"
  lifecycle runs of rows where the condition held; a run fires at its first row at least
            `for` after its first row, and resolves at the next row where the condition
            failed, or `stale_after` after its last row when no data followed ("no data").
"""

from __future__ import annotations

from streams.detect import expr_ast as ast
from streams.detect.evaluators.base import CompiledRule
from streams.detect.evaluators.threshold import RatioEvaluator, ThresholdEvaluator
from streams.detect.expr import Expr
from streams.detect.sql.exprs import RAW, Columns, ExprSql, MappedColumns, SqlUnsupported, ident, quote
from streams.detect.sql.rollups import relation, rule_family

TABLES = {"logs": "logs", "metrics": "metrics", "security": "security_events"}


class _Source:
    """Where the items come from: the relation, its column resolver, the RANGE key and unit."""

    def __init__(self, rule: CompiledRule, database: str, read_s: float):
        source = rule.model.source
        if source == "rollups":
            rel = relation(rule_family(rule.filter.root if rule.filter else None), database, read_s)
            self.sql, self.columns = rel.sql, rel.columns
            self.key, self.unit = "t", 1  # window ends, whole seconds
        elif source in TABLES:
            self.sql = (f"SELECT *, toFloat64(ts) AS t FROM {database}.{TABLES[source]} "
                        f"WHERE ts >= now64(6) - toIntervalSecond({int(read_s)})")
            self.columns: Columns = RAW
            self.key, self.unit = "toUnixTimestamp64Micro(ts)", 1_000_000
        else:
            raise SqlUnsupported(f"source {source!r} has no table to backtest against")
        self.groups = [(ident(text), self.columns.sql(node.keys), self.columns.is_string(node.keys))
                       for text, node in rule.group_paths]
        self.group_cols = [alias for alias, _, _ in self.groups]
        self.group_paths = {text: node for text, node in rule.group_paths}

    def items(self, rule: CompiledRule, extra: list[str]) -> str:
        groups = [f"{sql if is_string else f'toString({sql})'} AS {alias}" for alias, sql, is_string in self.groups]
        where = ExprSql(self.columns)(rule.filter.root) if rule.filter is not None else "1"
        cols = ", ".join(["t", f"{self.key} AS _k", *groups, *extra])
        return f"SELECT {cols} FROM ({self.sql}) WHERE {where}"

    def frame(self, window_s: float) -> str:
        preceding = max(int(round(window_s * self.unit)) - 1, 0)
        partition = ", ".join(self.group_cols) or "1"
        return f"(PARTITION BY {partition} ORDER BY _k RANGE BETWEEN {preceding} PRECEDING AND CURRENT ROW)"


class _Later(MappedColumns):
    """Columns after the items stage: group paths read the group columns; others as given."""

    def __init__(self, source: _Source, fields: dict[str, tuple[str, bool]], where: str):
        mapped = {text: (ident(text), True) for text in source.group_paths}
        mapped.update(fields)
        super().__init__(mapped, where=where)


def _nullable(sql: str) -> str:
    return f"CAST({sql} AS Nullable(Float64))"


def _value_node(expr: Expr | ast.Node | None) -> ast.Node | None:
    return expr.root if isinstance(expr, Expr) else expr


def threshold_sql(rule: ThresholdEvaluator, since_s: float, database: str) -> str:
    if rule.condition is None:
        raise SqlUnsupported("the rule has no valid condition")
    horizon = rule.horizon
    src = _Source(rule, database, since_s + horizon + rule.for_s)
    group_list = ", ".join(src.group_cols)
    g = group_list + ", " if group_list else ""
    condition = rule.condition.root
    value = _value_node(rule.value_expr)
    if not rule.slots:
        compile_ = ExprSql(src.columns)
        value_sql = compile_(value) if value is not None else "NULL"
        items = src.items(rule, [f"toUInt8({compile_(condition)}) AS _h", f"{value_sql} AS _v"])
        evaluated = (f"SELECT {g}t, _k, min(_h) AS _h, anyLast(_v) AS _v FROM items "
                     f"GROUP BY {g}t, _k")
        return _lifecycle(rule, src, [("items", items)], evaluated, since_s, rule.for_s, rule.stale_after)
    # Window aggregates: the per-item argument of each slot, and the plain fields the
    # condition reads from the current item.
    args, plain, slot_cols = [], {}, {}
    for index, (_call, arg, _window) in enumerate(rule.slots):
        args.append(f"{_nullable(ExprSql(src.columns).numeric(arg))} AS _a{index}")
    for expr in (condition, value):
        for node in ast.walk(expr) if expr is not None else ():
            if isinstance(node, ast.Call) and node.spec.window:  # type: ignore[attr-defined]
                continue
            if isinstance(node, ast.Path) and ".".join(map(str, node.keys)) not in src.group_paths:
                text = ".".join(map(str, node.keys))
                if not _inside_window(node, condition, value) and text not in plain:
                    plain[text] = (f"_p{len(plain)}", src.columns.is_string(node.keys), node.keys)
    extra = args + [f"{src.columns.sql(keys)} AS {alias}" for alias, _, keys in plain.values()]
    items = src.items(rule, extra)
    partial = []
    for index in range(len(rule.slots)):
        partial += [f"sum(_a{index}) AS _s{index}", f"count(_a{index}) AS _c{index}",
                    f"min(_a{index}) AS _mn{index}", f"max(_a{index}) AS _mx{index}"]
    partial += [f"anyLast({alias}) AS {alias}" for alias, _, _ in plain.values()]
    steps = f"SELECT {g}t, _k, {', '.join(partial)} FROM items GROUP BY {g}t, _k"
    windows, window_cols = {}, []
    for index, (call, _arg, window) in enumerate(rule.slots):
        name = windows.setdefault(window, f"w{len(windows)}")
        agg = {
            "sum_over": f"if(sum(_c{index}) OVER {name} > 0, sum(_s{index}) OVER {name}, NULL)",
            "count_over": f"sum(_c{index}) OVER {name}",
            "avg_over": f"sum(_s{index}) OVER {name} / nullIf(sum(_c{index}) OVER {name}, 0)",
            "min_over": f"min(_mn{index}) OVER {name}",
            "max_over": f"max(_mx{index}) OVER {name}",
        }[call.name]
        window_cols.append(f"{agg} AS _w{index}")
        slot_cols[call] = f"_w{index}"
    later = _Later(src, {text: (alias, is_string) for text, (alias, is_string, _) in plain.items()},
                   "a windowed threshold")
    compile_ = ExprSql(later, slot_cols)
    plain_cols = "".join(f", {alias}" for alias, _, _ in plain.values())
    window_defs = ", ".join(f"{name} AS {src.frame(window)}" for window, name in windows.items())
    windowed = (f"SELECT {g}t, _k{plain_cols}, {', '.join(window_cols)} FROM steps WINDOW {window_defs}")
    value_sql = compile_(value) if value is not None else "NULL"
    evaluated = f"SELECT {g}t, _k, toUInt8({compile_(condition)}) AS _h, {value_sql} AS _v FROM windowed"
    ctes = [("items", items), ("steps", steps), ("windowed", windowed)]
    return _lifecycle(rule, src, ctes, evaluated, since_s, rule.for_s, rule.stale_after)


def _inside_window(target: ast.Node, *roots: ast.Node | None) -> bool:
    for root in roots:
        for node in ast.walk(root) if root is not None else ():
            if isinstance(node, ast.Call) and node.spec.window:  # type: ignore[attr-defined]
                if any(inner is target for inner in ast.walk(node)):
                    return True
    return False


def ratio_sql(rule: RatioEvaluator, since_s: float, database: str) -> str:
    if rule.numerator is None or rule.denominator is None or rule.condition is None:
        raise SqlUnsupported("the rule has no valid numerator, denominator or condition")
    src = _Source(rule, database, since_s + rule.horizon + rule.for_s)
    group_list = ", ".join(src.group_cols)
    g = group_list + ", " if group_list else ""
    compile_ = ExprSql(src.columns)
    items = src.items(rule, [f"{_nullable(compile_.numeric(rule.numerator.root))} AS _n",
                             f"{_nullable(compile_.numeric(rule.denominator.root))} AS _d"])
    steps = f"SELECT {g}t, _k, sum(_n) AS _n, sum(_d) AS _d FROM items GROUP BY {g}t, _k"
    cols, defs, fields = [], [], {}
    min_den = quote(float(rule.model.min_denominator))
    for index, (suffix, window) in enumerate(rule.windows.items()):
        w = f"w{index}"
        defs.append(f"{w} AS {src.frame(window)}")
        num, den, ratio = f"numerator{suffix}", f"denominator{suffix}", f"ratio{suffix}"
        cols += [f"ifNull(sum(_n) OVER {w}, 0) AS {num}", f"ifNull(sum(_d) OVER {w}, 0) AS {den}"]
        fields.update({num: (num, False), den: (den, False), ratio: (ratio, False)})
    ratios = [f"if({den} > 0 AND {den} >= {min_den}, {num} / {den}, NULL) AS {ratio}"
              for num, den, ratio in ((f"numerator{s}", f"denominator{s}", f"ratio{s}") for s in rule.windows)]
    windowed = (f"SELECT {g}t, _k, {', '.join(cols)} FROM steps WINDOW {', '.join(defs)}")
    later = _Later(src, fields, "a ratio condition (ratio*, numerator*, denominator* and the group_by fields)")
    condition = ExprSql(later)(rule.condition.root)
    evaluated = (f"SELECT {g}t, _k, toUInt8({condition}) AS _h, ratio AS _v "
                 f"FROM (SELECT *, {', '.join(ratios)} FROM windowed)")
    ctes = [("items", items), ("steps", steps), ("windowed", windowed)]
    return _lifecycle(rule, src, ctes, evaluated, since_s, rule.for_s, rule.stale_after)


def _lifecycle(rule: CompiledRule, src: _Source, ctes: list[tuple[str, str]], evaluated: str, since_s: float,
               for_s: float, stale_s: float) -> str:
    groups = ", ".join(src.group_cols)
    g = groups + ", " if groups else ""
    part = f"PARTITION BY {groups or '1'}"
    for_sql, stale = quote(float(for_s)), quote(float(stale_s))
    runs = (
        f"SELECT *, sum(toUInt8(NOT _h OR _gap)) OVER ({part} ORDER BY t ROWS UNBOUNDED PRECEDING) AS _run "
        f"FROM (SELECT *, t - lagInFrame(t, 1, t) OVER ({part} ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING "
        f"AND CURRENT ROW) >= {stale} AS _gap FROM evaluated)")
    started = f"SELECT *, min(if(_h, t, NULL)) OVER ({part}, _run) AS _started FROM runs"
    firing = f"_h AND t - _started >= {for_sql}"
    spans = (f"SELECT {g}_run, any(_started) AS started, min(if({firing}, t, NULL)) AS fired, "
             f"argMinIf(_v, t, {firing}) AS value, max(t) AS last_t, min(t) AS first_t, argMin(_gap, t) AS first_gap "
             f"FROM ({started}) GROUP BY {g}_run")
    following = f"OVER ({part} ORDER BY _run ROWS BETWEEN 1 FOLLOWING AND 1 FOLLOWING)"
    intervals = (f"SELECT *, count() {following} AS _has_next, any(first_t) {following} AS _next_t, "
                 f"any(first_gap) {following} AS _next_gap FROM spans")
    resolved = (f"multiIf(_has_next > 0 AND NOT _next_gap, _next_t, "
                f"_has_next > 0 OR toFloat64(now()) - last_t >= {stale}, last_t + {stale}, NULL)")
    cutoff = f"toFloat64(now()) - {int(since_s)}"
    ctes = [*ctes, ("evaluated", evaluated), ("runs", runs), ("spans", spans), ("intervals", intervals)]
    with_ = ",\n".join(f"{name} AS (\n  {sql}\n)" for name, sql in ctes)
    return (
        f"WITH {with_}\n"
        f"SELECT {g}toDateTime64(started, 3, 'UTC') AS started, toDateTime64(fired, 3, 'UTC') AS fired, "
        f"toDateTime64(_resolved, 3, 'UTC') AS resolved, "
        f"multiIf(_resolved IS NULL, '', _has_next > 0 AND NOT _next_gap, 'condition', 'no data') AS resolved_by, "
        f"value\nFROM (SELECT *, {resolved} AS _resolved FROM intervals WHERE fired IS NOT NULL)\n"
        f"WHERE _resolved IS NULL OR _resolved >= {cutoff} ORDER BY fired, started"
    )
