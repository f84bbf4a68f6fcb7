"""sequence: the evaluator's per-group state machine, replayed with arrayFold.

Window functions cannot express it exactly: after an alert the group starts
counting over (25 failures with count 10 fire at the 10th and the 20th), `then`
arms the group and expires, and `throttle` drops alerts without resetting the
clock. So the query collects each group's matching events in time order
(ties by event id) and folds them through the same steps as
streams/detect/evaluators/sequence.py: state (hits, armed_at, last_alert, fires).
"""

from __future__ import annotations

from streams.detect.evaluators.sequence import SequenceEvaluator, _Step
from streams.detect.sql.exprs import RAW, ExprSql, SqlUnsupported, ident, quote, selection_sql
from streams.detect.sql.stateful import TABLES

_NULL = "CAST(NULL, 'Nullable(Float64)')"
_NO_HITS = "CAST([], 'Array(Float64)')"
_FIRE_TYPE = "Array(Tuple(Float64, Float64, UInt64, String))"


def _step_sql(step: _Step) -> str:
    parts = [selection_sql(step.selection)]
    if step.filter is not None:
        parts.append(ExprSql(RAW)(step.filter.root))
    return " AND ".join(parts)


def _fire(state: str, hits: str, throttle: float) -> str:
    """The alert (started, at, count, event id) unless throttled; hits and armed_at reset."""
    throttled = f"{quote(float(throttle))} > 0 AND {state}.3 IS NOT NULL AND e.1 - {state}.3 < {quote(float(throttle))}"
    fired = f"arrayPushBack({state}.4, (if(empty({hits}), e.1, {hits}[1]), e.1, length({hits}), e.4))"
    return (f"if({throttled}, ({_NO_HITS}, {_NULL}, {state}.3, {state}.4), "
            f"({_NO_HITS}, {_NULL}, CAST(e.1, 'Nullable(Float64)'), {fired}))")


def _first(state: str, rule: SequenceEvaluator) -> str:
    """An A event: add it to the hits inside `within` (at most `count`), then fire or arm."""
    first = rule.first.step
    hits = (f"arraySlice(arrayFilter(h -> e.1 - h < {quote(float(first.within))}, arrayPushBack({state}.1, e.1)), "
            f"-{first.count})")
    reached = f"({hits}, {state}.2, {state}.3, {state}.4)"
    done = _fire(state, hits, rule.throttle) if rule.then is None else \
        f"({hits}, CAST(e.1, 'Nullable(Float64)'), {state}.3, {state}.4)"
    return f"if(NOT e.2, {state}, if(length({hits}) < {first.count}, {reached}, {done}))"


def sequence_sql(rule: SequenceEvaluator, since_s: float, database: str) -> str:
    table = TABLES.get(rule.model.source)
    if table is None:
        raise SqlUnsupported(f"source {rule.model.source!r} has no raw table to backtest against")
    horizon = max(rule.first.step.within + (rule.then.step.within if rule.then else 0.0), rule.throttle)
    groups = [(ident(text), RAW.sql(node.keys), RAW.is_string(node.keys)) for text, node in rule.group_paths]
    group_cols = [alias for alias, _, _ in groups]
    g = "".join(f"{alias}, " for alias in group_cols)
    group_sql = "".join(f"{sql if is_string else f'toString({sql})'} AS {alias}, " for alias, sql, is_string in groups)
    a = _step_sql(rule.first)
    b = _step_sql(rule.then) if rule.then is not None else "0"
    where = [f"ts >= now64(6) - toIntervalSecond({int(since_s + horizon)})", "(_a OR _b)"]
    if rule.filter is not None:
        where.insert(1, ExprSql(RAW)(rule.filter.root))
    items = (f"SELECT {group_sql}toFloat64(ts) AS t, toString(event_id) AS id, toUInt8({a}) AS _a, "
             f"toUInt8({b}) AS _b FROM {database}.{table} WHERE {' AND '.join(where)}")
    expired = "(s.1, " + _NULL + ", s.3, s.4)"
    if rule.then is not None:
        then = rule.then.step
        in_time = f"e.1 - s.2 >= 0 AND e.1 - s.2 <= {quote(float(then.within))}"
        step = (f"if(e.3 AND s.2 IS NOT NULL, if({in_time}, {_fire('s', 's.1', rule.throttle)}, "
                f"{_first(expired, rule)}), {_first('s', rule)})")
    else:
        step = _first("s", rule)
    init = f"({_NO_HITS}, {_NULL}, {_NULL}, CAST([], '{_FIRE_TYPE}'))"
    events = "arraySort(x -> (x.1, x.4), groupArray((t, _a, _b, id)))"
    fold = f"arrayFold((s, e) -> {step}, {events}, {init}).4"
    group_by = f" GROUP BY {', '.join(group_cols)}" if group_cols else ""
    return (
        f"WITH items AS (\n  {items}\n)\n"
        f"SELECT {g}toDateTime64(f.1, 3, 'UTC') AS started, toDateTime64(f.2, 3, 'UTC') AS fired, "
        f"f.3 AS count, f.4 AS event_id\n"
        f"FROM (SELECT {g}{fold} AS fires FROM items{group_by}) ARRAY JOIN fires AS f\n"
        f"WHERE f.2 >= toFloat64(now()) - {int(since_s)} ORDER BY fired, started"
    )
