"""absence: silences of a group longer than `window`, between consecutive stored items.

A group is silent from one item to the next (event time; for `source: rollups`, window
ends). A gap of at least `window` fires at last_seen + window and resolves at the next
item ('condition'); after the group's last item it fires once now - last_seen >= window
and stays unresolved. Groups listed in `expect:` that sent nothing before the start of
the backtest window (`now - since`) are taken as armed then (the stream arms them when
the detect stage starts, which storage does not record).

Differences from the stream: the stream uses arrival time (when the detect stage saw
an item, so a consumer catching up after downtime does not page for data that is merely
late), and fires on its next timer tick at or after last_seen + window. Every stored item
of the group is read, so a silence that began before `since` is found too.
"""

from __future__ import annotations

from streams.detect.evaluators.absence import AbsenceEvaluator
from streams.detect.sql.exprs import quote
from streams.detect.sql.stateful import _Source

HISTORY_S = 400 * 86400  # everything stored: the item before the first silence in `since`


def absence_sql(rule: AbsenceEvaluator, since_s: float, database: str) -> str:
    src = _Source(rule, database, HISTORY_S)
    cols = src.group_cols
    g = "".join(f"{c}, " for c in cols)
    part = f"PARTITION BY {', '.join(cols) or '1'}"
    window = quote(float(rule.window))
    cutoff = f"toFloat64(now()) - {int(since_s)}"
    items = f"SELECT {g}toFloat64(t) AS t, toUInt8(0) AS _armed FROM ({src.items(rule, [])})"
    expected = [
        "SELECT " + "".join(f"{quote(str(group.get(text, '')))} AS {alias}, "
                            for (text, _), alias in zip(rule.group_paths, cols, strict=True))
        + f"{cutoff} AS t, toUInt8(1) AS _armed"
        for group in rule.model.expect
    ]
    union = " UNION ALL ".join([items, *expected])
    # An expected group's arming counts only if it sent nothing before it.
    seen = (f"SELECT * FROM (SELECT *, min(if(_armed, inf, t)) OVER ({part}) AS _first FROM ({union})) "
            f"WHERE NOT (_armed AND _first < t)")
    gaps = (f"SELECT {g}t AS _last, leadInFrame(toNullable(t), 1) OVER ({part} ORDER BY t, _armed DESC "
            f"ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS _next FROM seen")
    fired = f"_last + {window}"
    return (
        f"WITH seen AS (\n  {seen}\n),\ngaps AS (\n  {gaps}\n)\n"
        f"SELECT {g}toDateTime64({fired}, 3, 'UTC') AS started, toDateTime64({fired}, 3, 'UTC') AS fired, "
        f"toDateTime64(_next, 3, 'UTC') AS resolved, if(_next IS NULL, '', 'condition') AS resolved_by, "
        f"{window} AS value, toDateTime64(_last, 3, 'UTC') AS last_seen\n"
        f"FROM gaps WHERE ifNull(_next - _last >= {window}, toFloat64(now()) - _last >= {window}) "
        f"AND ifNull(_next >= {cutoff}, 1) ORDER BY fired"
    )
