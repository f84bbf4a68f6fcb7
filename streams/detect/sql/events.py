"""pattern and compliance: one row per matching event of a raw table."""

from __future__ import annotations

from streams.detect.evaluators.base import CompiledRule
from streams.detect.evaluators.pattern import _DAYS, ComplianceEvaluator, PatternEvaluator, _minutes
from streams.detect.sql.exprs import RAW, ExprSql, SqlUnsupported, ident, quote, selection_sql
from streams.detect.sql.stateful import TABLES


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
        clauses.append(ExprSql(RAW)(rule.filter.root))
    return " AND ".join(clauses + extra)


def pattern_sql(rule: PatternEvaluator, since_s: float, database: str) -> str:
    table = TABLES.get(rule.model.source)
    if table is None:
        raise SqlUnsupported(f"source {rule.model.source!r} has no raw table to backtest against")
    groups = "".join(f", {RAW.sql(node.keys)} AS {ident(text)}" for text, node in rule.group_paths)
    extra = [selection_sql(rule.selection)]
    if isinstance(rule, ComplianceEvaluator):
        extra.append(_change_windows_sql(rule))
        for path, allowed in rule.allow:
            extra.append(f"{RAW.sql(path.keys)} NOT IN ({', '.join(quote(v) for v in sorted(allowed))})")
    return (f"SELECT ts, event_id{groups} FROM {database}.{table} WHERE {_where(rule, since_s, extra)} "
            f"ORDER BY ts")
