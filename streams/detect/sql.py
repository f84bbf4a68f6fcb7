"""Compile rules to ClickHouse SQL over stored history (the basis of `rules backtest`).

Supported: pattern and compliance rules, and threshold rules, over the raw event
tables (`logs`, `metrics`, `security_events`, schema in schemas/migrations).
The query returns the events (or windows) where the rule would have matched:

- pattern / compliance: one row per matching event (ts, event_id, group columns);
  change windows and allow-lists are compiled too; `throttle` is not applied.
- threshold: without window aggregates, one row per event where the condition
  holds; with them (`sum_over(x)` ...), one row per *tumbling* window of the
  rule's `window` and group where it holds (the live evaluator slides the
  window, so the backtest is an approximation), and `for` is not applied.

Semantics follow the evaluator: string matchers are case-insensitive unless
`cased`, a missing map key is '' (the evaluator's null), numeric comparisons on
string attributes parse them as numbers. ClickHouse regexes are RE2: lookbehind
and possessive quantifiers, accepted by the live evaluator, fail here.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.detect import expr_ast as ast
from streams.detect.durations import parse_duration
from streams.detect.evaluators.base import CompiledRule
from streams.detect.evaluators.matchers import FieldMatcher, Selection
from streams.detect.evaluators.pattern import _DAYS, ComplianceEvaluator, PatternEvaluator, _minutes
from streams.detect.evaluators.threshold import ThresholdEvaluator
from streams.detect.expr import Expr

TABLES = {"logs": "logs", "metrics": "metrics", "security": "security_events"}
_MAPS = {"attributes", "labels"}
_NUMERIC = {"severity_number", "value"}
_CMP = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": "plus", "-": "minus", "*": "multiply", "%": "modulo"}
_WINDOW_SQL = {"sum_over": "sum", "avg_over": "avg", "min_over": "min", "max_over": "max", "count_over": "count"}


class SqlUnsupported(ValueError):
    """This rule (or one of its constructs) has no SQL form; the message says which."""


def quote(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def column(keys: tuple) -> str:
    """A field path as a column expression: attributes.http.method -> attributes['http.method']."""
    head = str(keys[0])
    if head in _MAPS and len(keys) > 1:
        return f"{head}[{quote('.'.join(str(k) for k in keys[1:]))}]"
    if len(keys) > 1:
        raise SqlUnsupported(f"field {'.'.join(map(str, keys))!r} has no column")
    if head == "ts":
        return "toFloat64(ts)"
    if not head.replace("_", "").isalnum():
        raise SqlUnsupported(f"field {head!r} has no column")
    return f"`{head}`"


def _is_string_column(keys: tuple) -> bool:
    return str(keys[0]) not in _NUMERIC and keys[0] != "ts"


class ExprSql:
    """AST -> SQL; `aggregate` turns window calls into SQL aggregates (threshold windows)."""

    def __init__(self, aggregate: bool = False):
        self.aggregate = aggregate

    def __call__(self, node: ast.Node, inside_aggregate: bool = False) -> str:
        if isinstance(node, ast.Literal):
            return quote(node.value)
        if isinstance(node, ast.ListLit):
            return "[" + ", ".join(self(item, inside_aggregate) for item in node.items) + "]"
        if isinstance(node, ast.Path):
            col = column(node.keys)
            return col if inside_aggregate or not self.aggregate else f"anyLast({col})"
        if isinstance(node, ast.Unary):
            inner = self(node.operand, inside_aggregate)
            return f"NOT ({inner})" if node.op == "not" else f"-({inner})"
        if isinstance(node, ast.Binary):
            return self.binary(node, inside_aggregate)
        if isinstance(node, ast.Call):
            return self.call(node, inside_aggregate)
        raise SqlUnsupported(f"no SQL for {type(node).__name__}")

    def numeric(self, node: ast.Node, inside: bool) -> str:
        sql = self(node, inside)
        if isinstance(node, ast.Path) and _is_string_column(node.keys):
            return f"toFloat64OrNull({sql})"
        return sql

    def binary(self, node: ast.Binary, inside: bool) -> str:
        op = node.op
        if op in ("and", "or"):
            return f"({self(node.left, inside)} {op.upper()} {self(node.right, inside)})"
        if op in ("in", "not in"):
            negate = "NOT " if op == "not in" else ""
            if isinstance(node.right, ast.ListLit):
                return f"{negate}({self(node.left, inside)} IN ({', '.join(self(i, inside) for i in node.right.items)}))"
            return f"{negate}(position({self(node.right, inside)}, {self(node.left, inside)}) > 0)"
        if op in _CMP:
            numeric = any(isinstance(side, ast.Literal) and isinstance(side.value, int | float)
                          and not isinstance(side.value, bool) for side in (node.left, node.right))
            left = self.numeric(node.left, inside) if numeric else self(node.left, inside)
            right = self.numeric(node.right, inside) if numeric else self(node.right, inside)
            return f"ifNull({left} {_CMP[op]} {right}, 0)"
        left, right = self.numeric(node.left, inside), self.numeric(node.right, inside)
        if op == "/":
            return f"({left} / nullIf({right}, 0))"
        if op == "**":
            return f"pow({left}, {right})"
        return f"{_ARITH[op]}({left}, {right})"

    def call(self, node: ast.Call, inside: bool) -> str:
        name = node.name
        if name in _WINDOW_SQL:
            if not self.aggregate:
                raise SqlUnsupported(f"{name}() outside a windowed query")
            arg = "*" if name == "count_over" and not node.args else self.numeric(node.args[0], True)
            return f"{_WINDOW_SQL[name]}({arg})"
        args = [self(arg, inside) for arg in node.args]
        simple: dict[str, Callable[[list[str]], str]] = {
            "lower": lambda a: f"lowerUTF8({a[0]})",
            "upper": lambda a: f"upperUTF8({a[0]})",
            "len": lambda a: f"lengthUTF8({a[0]})",
            "abs": lambda a: f"abs({a[0]})",
            "min": lambda a: f"least({', '.join(a)})",
            "max": lambda a: f"greatest({', '.join(a)})",
            "round": lambda a: f"round({', '.join(a)})",
            "startswith": lambda a: f"startsWith({a[0]}, {a[1]})",
            "endswith": lambda a: f"endsWith({a[0]}, {a[1]})",
            "contains": lambda a: f"(position({a[0]}, {a[1]}) > 0)",
            "matches": lambda a: f"match({a[0]}, {a[1]})",
            "exists": lambda a: f"({a[0]} != '')",
            "coalesce": lambda a: "coalesce(" + ", ".join(f"nullIf({x}, '')" for x in a) + ")",
            "if": lambda a: f"if({a[0]}, {a[1]}, {a[2]})",
            "number": lambda a: f"toFloat64OrNull(toString({a[0]}))",
            "string": lambda a: f"toString({a[0]})",
        }
        if name == "cidr_match":
            networks = node.args[1]
            values = [i.value for i in networks.items] if isinstance(networks, ast.ListLit) else [getattr(networks, "value", None)]
            if not all(isinstance(v, str) for v in values):
                raise SqlUnsupported("cidr_match() needs literal networks in SQL")
            return "(" + " OR ".join(f"isIPAddressInRange({args[0]}, {quote(v)})" for v in values) + ")"
        if name not in simple:
            raise SqlUnsupported(f"no SQL for {name}()")
        return simple[name](args)


def matcher_sql(m: FieldMatcher) -> str:
    col = column(m.path.keys)
    text = col if m.cased or not _is_string_column(m.path.keys) else f"lowerUTF8({col})"
    if m.op == "exists":
        sql = f"({col} != '')" if m.values[0] else f"({col} = '')"
    else:
        parts = []
        for value in m.values:
            if m.op == "equals":
                parts.append(f"{text} = {quote(value)}")
            elif m.op == "contains":
                parts.append(f"position({text}, {quote(value)}) > 0")
            elif m.op == "startswith":
                parts.append(f"startsWith({text}, {quote(value)})")
            elif m.op == "endswith":
                parts.append(f"endsWith({text}, {quote(value)})")
            elif m.op == "re":
                parts.append(f"match({col}, {quote(value.pattern)})")
            elif m.op == "cidr":
                parts.append(f"isIPAddressInRange({col}, {quote(value)})")
            else:
                op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[m.op]
                number = f"toFloat64OrNull({col})" if _is_string_column(m.path.keys) else col
                parts.append(f"ifNull({number} {op} {quote(value)}, 0)")
        sql = "(" + (" AND " if m.all else " OR ").join(parts) + ")"
    return f"NOT {sql}" if m.negate else sql


def selection_sql(selection: Selection) -> str:
    if not selection.groups:
        return "1"
    return "(" + " OR ".join("(" + " AND ".join(matcher_sql(m) for m in group) + ")"
                             for group in selection.groups) + ")"


def _change_windows_sql(rule: ComplianceEvaluator) -> str:
    inside = []
    for window in rule.windows:
        local = f"toTimeZone(ts, {quote(window.tz)})"
        minute = f"(toHour({local}) * 60 + toMinute({local}))"
        day = f"toDayOfWeek({local})"
        days = ", ".join(str(_DAYS.index(d) + 1) for d in window.days)
        before = ", ".join(str((_DAYS.index(d) + 1) % 7 + 1) for d in window.days)  # day after a window day
        start, end = _minutes(window.start), _minutes(window.end)
        if start < end:
            inside.append(f"({day} IN ({days}) AND {minute} >= {start} AND {minute} < {end})")
        else:
            inside.append(f"(({day} IN ({days}) AND {minute} >= {start}) OR ({day} IN ({before}) AND {minute} < {end}))")
    return f"NOT ({' OR '.join(inside)})" if inside else "1"


def _where(rule: CompiledRule, since_s: float, extra: list[str]) -> str:
    clauses = [f"ts >= now64(6) - toIntervalSecond({int(since_s)})"]
    if rule.filter is not None:
        clauses.append(ExprSql()(rule.filter.root))
    return " AND ".join(clauses + extra)


def _groups(rule: CompiledRule) -> list[str]:
    return [f"{column(node.keys)} AS `{text.replace('`', '')}`" for text, node in rule.group_paths]


def to_sql(rule: CompiledRule, since: float | str = "7d", database: str = "sluice") -> str:
    """ClickHouse SQL listing where `rule` matched in the last `since`; SqlUnsupported otherwise."""
    since_s = parse_duration(since)
    table = TABLES.get(rule.model.source)
    if table is None:
        raise SqlUnsupported(f"source {rule.model.source!r} has no raw table to backtest against")
    source = f"{database}.{table}"
    groups = _groups(rule)
    select_groups = "".join(f", {g}" for g in groups)
    if isinstance(rule, PatternEvaluator):
        extra = [selection_sql(rule.selection)]
        if isinstance(rule, ComplianceEvaluator):
            extra.append(_change_windows_sql(rule))
            for path, allowed in rule.allow:
                extra.append(f"{column(path.keys)} NOT IN ({', '.join(quote(v) for v in sorted(allowed))})")
        return (f"SELECT ts, event_id{select_groups} FROM {source} WHERE {_where(rule, since_s, extra)} "
                f"ORDER BY ts")
    if isinstance(rule, ThresholdEvaluator) and rule.condition is not None:
        value = rule.value_expr.root if isinstance(rule.value_expr, Expr) else rule.value_expr
        if not rule.slots:
            value_sql = f", {ExprSql()(value)} AS value" if value is not None else ""
            condition = ExprSql()(rule.condition.root)
            return (f"SELECT ts, event_id{select_groups}{value_sql} FROM {source} "
                    f"WHERE {_where(rule, since_s, [condition])} ORDER BY ts")
        windows = {w for _, _, w in rule.slots}
        if len(windows) != 1:
            raise SqlUnsupported("window aggregates over different windows cannot share one tumbling window")
        (window,) = windows
        compile_ = ExprSql(aggregate=True)
        value_sql = f", {compile_(value)} AS value" if value is not None else ""
        group_names = [g.rsplit(" AS ", 1)[1] for g in groups]
        group_by = ", ".join(["window_start", *group_names])
        return (f"SELECT toStartOfInterval(ts, toIntervalSecond({int(window)})) AS window_start{select_groups}"
                f"{value_sql} FROM {source} WHERE {_where(rule, since_s, [])} GROUP BY {group_by} "
                f"HAVING {compile_(rule.condition.root)} ORDER BY window_start")
    raise SqlUnsupported(f"kind {rule.kind!r} has no SQL form yet (supported: pattern, compliance, threshold)")
