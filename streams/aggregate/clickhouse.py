"""Partials -> ClickHouse rows for the rollup tables of schemas/migrations/0005_rollups.sql.

The store runs, per table, `sql` from `rollup_insert_sql(db)` with the columns
of `partials_to_columns(partials)[table]` bound to a local variable `data`
(chDB's `Python(data)` table function finds it in the calling frame). Only
plain str/int/float lists cross that boundary: chDB's Python() cannot read dict
or list cells, so maps and arrays travel as JSON text and the SELECT parses them.
For a ClickHouse server, pass `source=input_source(table)` and send the rows as
JSONEachRow with the same column names.

Only partials of one window size go to the 1 m tables (60 s by default): the
larger views are materialized from them, so inserting 10 s partials as well
would count twice.
"""

from __future__ import annotations

import orjson

from streams.aggregate.sketch import DDSketch

QUANTILE_LEVELS = "0.5, 0.9, 0.95, 0.99"

# Source columns and their types (the Python() / input() relation the INSERT reads).
SOURCE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "rollups_1m": (
        ("ts", "Float64"), ("tenant", "String"), ("service", "String"), ("name", "String"),
        ("labels", "String"), ("type", "String"), ("unit", "String"), ("count", "UInt64"),
        ("sum", "Float64"), ("min", "Float64"), ("max", "Float64"), ("last", "Float64"),
        ("last_ts", "Float64"), ("increase", "Float64"), ("values", "String"), ("weights", "String"),
    ),
    "rollup_counts_1m": (
        ("ts", "Float64"), ("family", "String"), ("tenant", "String"), ("dims", "String"),
        ("count", "UInt64"), ("failures", "UInt64"), ("amount", "Float64"), ("amount_count", "UInt64"),
    ),
}

_SELECTS = {
    "rollups_1m": (
        "INSERT INTO {db}.rollups_1m {settings}"
        "SELECT toDateTime(toUInt32(ts), 'UTC'), tenant, service, name, "
        "mapSort(JSONExtract(labels, 'Map(String, String)')), type, unit, count, sum, min, max, "
        "initializeAggregation('argMaxState', last, tuple(toDateTime64(last_ts, 6, 'UTC'), last)), "
        "increase, arraySum(w), "
        "arrayReduce('quantilesExactWeightedState(" + QUANTILE_LEVELS + ")', v, w) "
        "FROM (SELECT *, JSONExtract(values, 'Array(Float64)') AS v, JSONExtract(weights, 'Array(UInt64)') AS w "
        "FROM {source})"
    ),
    "rollup_counts_1m": (
        "INSERT INTO {db}.rollup_counts_1m {settings}"
        "SELECT toDateTime(toUInt32(ts), 'UTC'), family, tenant, "
        "mapSort(JSONExtract(dims, 'Map(String, String)')), count, failures, amount, amount_count "
        "FROM {source}"
    ),
}


def source_structure(table: str) -> str:
    """The typed column list of `table`'s source relation (for a server's `input()`)."""
    return ", ".join(f"{name} {typ}" for name, typ in SOURCE_COLUMNS[table])


def input_source(table: str) -> str:
    """`input('...')` relation for a ClickHouse server insert of `table`'s source columns."""
    return f"input('{source_structure(table)}')"


def rollup_insert_templates(db: str) -> dict[str, tuple[str, str]]:
    """table -> (INSERT template with `{settings}` and `{source}` placeholders for
    sinks.clickhouse.backends, the source structure)."""
    out = {}
    for table, (sql, _names) in rollup_insert_sql(db, source="{source}").items():
        prefix = f"INSERT INTO {db}.{table} "
        out[table] = (prefix + "{settings}" + sql[len(prefix):], source_structure(table))
    return out


def rollup_insert_sql(db: str, source: str = "Python(data)", settings: str = "") -> dict[str, tuple[str, list[str]]]:
    """table -> (INSERT ... SELECT ... FROM source, the source column names).

    The SELECT lists the table's columns in DDL order. `settings` is put in the
    statement's SETTINGS clause, e.g. "insert_deduplication_token='...'".
    """
    clause = f"SETTINGS {settings} " if settings else ""
    return {
        table: (_SELECTS[table].format(db=db, source=source, settings=clause),
                [name for name, _ in SOURCE_COLUMNS[table]])
        for table in SOURCE_COLUMNS
    }


def _dumps(obj) -> str:
    return orjson.dumps(obj).decode()


def _sketch_points(sketch: dict | None) -> tuple[str, str]:
    if not sketch:
        return "[]", "[]"
    values, counts = DDSketch.from_dict(sketch).buckets()
    return _dumps(values), _dumps(counts)


def _count_rows(p: dict) -> list[tuple[dict, int, int, float, int]]:
    """(dims, count, failures, amount, amount_count) rows of a non-metric partial."""
    s = p["series"]
    family = p["family"]
    if family == "log":
        return [({"service": s["service"], "severity": severity}, count, errors, 0.0, 0)
                for severity, (count, errors) in p["severity"].items()]
    if family == "security":
        failures = p["count"] if s["outcome"] == "failure" else 0
        dims = {"category": s["category"], "action": s["action"], "outcome": s["outcome"]}
        return [(dims, p["count"], failures, 0.0, 0)]
    if family == "security_actor":
        return [({"actor": s["actor"]}, p["count"], p["failures"], 0.0, 0)]
    if family == "security_source_ip":
        return [({"source_ip": s["source_ip"]}, p["count"], p["failures"], 0.0, 0)]
    if family == "payment":
        dims = {"provider": s["provider"], "merchant": s["merchant"], "currency": s["currency"]}
        return [(dims, p["count"], p["failures"], p["amount_sum"], p["amount_count"])]
    return []


def partials_to_columns(partials: list[dict], window_s: int = 60) -> dict[str, dict[str, list]]:
    """Column-oriented rows per rollup table from the partials of size `window_s`.

    Histogram partials are not stored: their bucket series are metric rows already.
    """
    m: dict[str, list] = {name: [] for name, _ in SOURCE_COLUMNS["rollups_1m"]}
    c: dict[str, list] = {name: [] for name, _ in SOURCE_COLUMNS["rollup_counts_1m"]}
    for p in partials:
        if p["window_s"] != window_s:
            continue
        family = p["family"]
        if family == "metric":
            s = p["series"]
            values, weights = _sketch_points(p.get("sketch"))
            m["ts"].append(p["window_start"])
            m["tenant"].append(s["tenant"])
            m["service"].append(s["service"])
            m["name"].append(s["name"])
            m["labels"].append(_dumps(s["labels"]))
            m["type"].append(p["type"])
            m["unit"].append(p["unit"])
            m["count"].append(p["count"])
            m["sum"].append(float(p["sum"]))
            m["min"].append(float(p["min"]))
            m["max"].append(float(p["max"]))
            m["last"].append(float(p["last"]))
            m["last_ts"].append(float(p["last_ts"]))
            m["increase"].append(float(p.get("increase", 0.0)))
            m["values"].append(values)
            m["weights"].append(weights)
            continue
        for dims, count, failures, amount, amount_count in _count_rows(p):
            c["ts"].append(p["window_start"])
            c["family"].append(family)
            c["tenant"].append(p["series"]["tenant"])
            c["dims"].append(_dumps(dims))
            c["count"].append(count)
            c["failures"].append(failures)
            c["amount"].append(float(amount))
            c["amount_count"].append(amount_count)
    return {"rollups_1m": m, "rollup_counts_1m": c}
