"""The rollup items the detect stage sees, rebuilt from the 1-minute rollup tables.

The detect stage evaluates merged partials: one item per (family, series, window)
with the fields of streams/aggregate/partials.py. The store writes the 60 s
partials to `rollup_counts_1m` (log, security*, payment; a log window is split
per severity there) and `rollups_1m` (metric); both merge partial rows on read,
so summing per (window, series) gives back exactly the merged item:

    family             series                              fields
    log                tenant, service                     count, errors, error_ratio
    security           tenant, category, action, outcome   count
    security_actor     tenant, actor                       count, failures, failure_ratio
    security_source_ip tenant, source_ip                   count, failures, failure_ratio
    payment            tenant, provider, merchant,         count, failures, failure_ratio,
                       currency                            amount_sum, amount_count
    metric             tenant, service, name, labels       type, unit, count, sum, min, max,
                                                           last, increase, rate (counters)

A metric series is a counter when its window carries no sketched samples
(the `rate` rule of the metrics_1m view); `increase`/`rate` are null otherwise,
as in the stream. Histogram partials are not stored (their bucket series are,
as metric rows), so rules over family "histogram" have no SQL form.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.detect import expr_ast as ast
from streams.detect.sql.exprs import MappedColumns, SqlUnsupported, ident, quote

WINDOW_S = 60
_COUNT_FAMILIES = {
    "log": ("service",),
    "security": ("category", "action", "outcome"),
    "security_actor": ("actor",),
    "security_source_ip": ("source_ip",),
    "payment": ("provider", "merchant", "currency"),
}


@dataclass(frozen=True)
class Relation:
    """A subquery with one row per item: `t` (window end, epoch s) and the item's fields."""

    sql: str
    columns: MappedColumns


def rule_family(rule_filter: ast.Node | None) -> str:
    """The family a rule's filter pins (`family == "payment"` as a top-level conjunct)."""
    found: set[str] = set()

    def walk(node: ast.Node | None) -> None:
        if isinstance(node, ast.Binary) and node.op == "and":
            walk(node.left)
            walk(node.right)
        elif (isinstance(node, ast.Binary) and node.op == "==" and isinstance(node.left, ast.Path)
              and node.left.keys == ("family",) and isinstance(node.right, ast.Literal)):
            found.add(str(node.right.value))

    walk(rule_filter)
    if len(found) != 1:
        raise SqlUnsupported('a rule over rollups needs `family == "..."` in its filter (and-ed) to pick '
                             "the rollup table to read")
    return found.pop()


def _common(family: str, series: tuple[str, ...]) -> dict[str, tuple[str, bool]]:
    fields = {"family": (quote(family), True), "window_s": (str(WINDOW_S), False),
              "window_start": ("window_start", False)}
    fields.update({f"series.{dim}": (ident(f"series.{dim}"), True) for dim in series})
    return fields


def relation(family: str, database: str, since_s: float) -> Relation:
    since = f"ts >= now() - toIntervalSecond({int(since_s)})"
    where = f"the {family!r} rollups in ClickHouse"
    if family in _COUNT_FAMILIES:
        dims = _COUNT_FAMILIES[family]
        if family == "log":
            extra = ("sum(c.count) AS count, sum(c.failures) AS errors, "
                     "if(sum(c.count) > 0, sum(c.failures) / sum(c.count), 0) AS error_ratio")
            fields = {"count": False, "errors": False, "error_ratio": False}
        elif family == "security":
            extra, fields = "sum(c.count) AS count", {"count": False}
        else:
            extra = ("sum(c.count) AS count, sum(c.failures) AS failures, "
                     "if(sum(c.count) > 0, sum(c.failures) / sum(c.count), 0) AS failure_ratio")
            fields = {"count": False, "failures": False, "failure_ratio": False}
            if family == "payment":
                extra += ", sum(c.amount) AS amount_sum, sum(c.amount_count) AS amount_count"
                fields.update({"amount_sum": False, "amount_count": False})
        dim_cols = ", ".join(f"c.dims[{quote(d)}] AS {ident('series.' + d)}" for d in dims)
        group = ", ".join(ident("series." + d) for d in dims)
        sql = (f"SELECT toUInt32(c.ts) AS window_start, toUInt32(c.ts) + {WINDOW_S} AS t, c.tenant AS `series.tenant`, "
               f"{dim_cols}, {extra} FROM {database}.rollup_counts_1m AS c "
               f"WHERE c.family = {quote(family)} AND c.{since} GROUP BY c.ts, c.tenant, {group}")
        columns = _common(family, ("tenant", *dims))
        columns.update({name: (ident(name), is_string) for name, is_string in fields.items()})
        return Relation(sql, MappedColumns(columns, where=where))
    if family == "metric":
        sql = (f"SELECT toUInt32(r.ts) AS window_start, toUInt32(r.ts) + {WINDOW_S} AS t, r.tenant AS `series.tenant`, "
               "r.service AS `series.service`, r.name AS `series.name`, r.labels AS `series.labels`, "
               "any(r.type) AS type, any(r.unit) AS unit, sum(r.count) AS count, sum(r.sum) AS sum, "
               "min(r.min) AS min, max(r.max) AS max, argMaxMerge(r.last) AS last, "
               f"if(sum(r.sketched) > 0, NULL, sum(r.increase)) AS increase, increase / {WINDOW_S} AS rate "
               f"FROM {database}.rollups_1m AS r WHERE r.{since} GROUP BY r.ts, r.tenant, r.service, r.name, r.labels")
        columns = _common(family, ("tenant", "service", "name"))
        columns.update({"type": ("type", True), "unit": ("unit", True)})
        columns.update({name: (ident(name), False) for name in
                        ("count", "sum", "min", "max", "last", "increase", "rate")})
        return Relation(sql, MappedColumns(columns, {"series.labels": "`series.labels`"}, where=where))
    if family == "histogram":
        raise SqlUnsupported("histogram rollups are not stored in ClickHouse (only their bucket counters, as "
                             "metric rows), so their p50..p99 cannot be rebuilt as the stream saw them")
    raise SqlUnsupported(f"no rollup table holds family {family!r}")
