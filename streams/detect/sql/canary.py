"""canary: each deployment's analysis over stored samples, judged as streams/detect/canary.py does.

Stages (CTEs of one query):
  deps      deployments the rule's filter accepts (table `deployments`), group columns
  analyses  those whose analysis ran to the end: a newer deployment of the same group
            before `analysis` was over replaced it (the stream drops its samples);
            only analyses already over are listed, at `fired` = their end (the stream
            finishes on its next timer tick or on the group's next sample after the end)
  samples   metric samples carrying a deployment group (`group_field`), one row per
            configured metric whose filter they pass, with the metric's value
  kept      samples of the same group inside [deployment, end) whose deployment group is
            the analysis's canary (checked first) or baseline group; the first
            `max_samples` of each side in event-time order (the stream keeps the first
            to arrive)
  ranked    average ranks over both sides (rank + (ties - 1) / 2) and the tie sizes
  stats     Mann-Whitney U of the canary = R1 - n1(n1+1)/2, the tie term sum(t^3 - t), the
            normal approximation with tie and continuity correction, two-sided p
            (erfc), Cliff's delta = 2U/(n1 n2) - 1, medians: the formulas of
            streams.detect.canary.mann_whitney_u in the same operation order
  judged    per metric pass / marginal / fail / nodata, then the score and verdict of
            overall_verdict (critical metrics, pass_score, marginal_score)

U is computed here rather than with ClickHouse's mannWhitneyUTest: that function returns
the U of the *second* sample, its continuity-corrected z can go negative (|U - mean| < 0.5)
where the Python clamps it to 0, it has no answer when every value is equal (the Python
says p = 1), and its p-value comes from another normal CDF implementation; ranks in SQL
give the Python's numbers.
"""

from __future__ import annotations

from streams.detect.evaluators.canary import _RECOMMENDATION, CanaryEvaluator
from streams.detect.sql.exprs import RAW, ExprSql, SqlUnsupported, ident, quote

DEPLOYMENT_COLUMNS = {"tenant", "service", "env", "version", "canary_group", "baseline_group", "actor", "description"}
_MEDIAN = ("if(length({a}) = 0, NULL, if(length({a}) % 2 = 1, {a}[intDiv(length({a}), 2) + 1], "
           "({a}[intDiv(length({a}), 2)] + {a}[intDiv(length({a}), 2) + 1]) / 2))")


def _median(array: str) -> str:
    return _MEDIAN.format(a=f"arraySort({array})")


def _array(values: list) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def canary_sql(rule: CanaryEvaluator, since_s: float, database: str) -> str:
    m = rule.m
    if m.samples != "metrics":
        raise SqlUnsupported("canary samples from rollups have no SQL form (only `samples: metrics`, the raw "
                             "metrics table, is backtested)")
    if rule.group_field is None or any(c[1] is None or c[2] is None for c in rule.metrics):
        raise SqlUnsupported("the rule has an invalid group_field, metric filter or value")
    for text, node in rule.group_paths:
        if len(node.keys) != 1 or str(node.keys[0]) not in DEPLOYMENT_COLUMNS:
            raise SqlUnsupported(f"group_by {text!r} is not a column of the deployments table "
                                 f"({', '.join(sorted(DEPLOYMENT_COLUMNS))})")
    groups = [(ident(text), RAW.sql(node.keys), RAW.is_string(node.keys)) for text, node in rule.group_paths]
    cols = [alias for alias, _, _ in groups]
    g = "".join(f"{c}, " for c in cols)
    group_sql = "".join(f"toString({sql}) AS {alias}, " for alias, sql, _ in groups)
    read = f"ts >= now64(6) - toIntervalSecond({int(since_s + m.analysis)})"
    dep_where = [read] + ([ExprSql(RAW)(rule.filter.root)] if rule.filter is not None else [])
    deps = (f"SELECT {group_sql}toFloat64(ts) AS t, toString(event_id) AS dep_id, version, "
            f"if(canary_group != '', canary_group, 'canary') AS cg, "
            f"if(baseline_group != '', baseline_group, 'baseline') AS bg "
            f"FROM {database}.deployments WHERE {' AND '.join(dep_where)}")
    part = f"PARTITION BY {', '.join(cols) or '1'}"
    analysis = quote(float(m.analysis))
    analyses = (f"SELECT *, t + {analysis} AS until FROM (SELECT *, leadInFrame(toNullable(t), 1) OVER ({part} "
                f"ORDER BY t, dep_id ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS _next FROM deps) "
                f"WHERE ifNull(_next >= t + {analysis}, 1) AND t + {analysis} <= toFloat64(now())")
    compile_ = ExprSql(RAW)
    filters = [compile_(selector.root) for _, selector, _ in rule.metrics]  # type: ignore[union-attr]
    values = [f"CAST({compile_.numeric(value.root)} AS Nullable(Float64))" for _, _, value in rule.metrics]  # type: ignore[union-attr]
    per_metric = ", ".join(f"if({f}, {v}, NULL)" for f, v in zip(filters, values, strict=True))
    samples = (f"SELECT {g}t, id, _dg, _mv.1 AS metric, assumeNotNull(_mv.2) AS value FROM ("
               f"SELECT {group_sql}toFloat64(ts) AS t, toString(event_id) AS id, "
               f"toString({RAW.sql(rule.group_field.keys)}) AS _dg, "
               f"arrayFilter(x -> x.2 IS NOT NULL, arrayZip(range({len(filters)}), [{per_metric}])) AS _mvs "
               f"FROM {database}.metrics WHERE {read} AND _dg != '' AND ({' OR '.join(filters)})) ARRAY JOIN _mvs AS _mv")
    on = " AND ".join(f"a.{c} = s.{c}" for c in cols)
    join = f"JOIN samples AS s ON {on}" if cols else "CROSS JOIN samples AS s"
    a_g = "".join(f"a.{c} AS {c}, " for c in cols)
    kept = (f"SELECT * FROM (SELECT {a_g}a.dep_id AS dep_id, s.metric AS metric, s.value AS value, "
            f"if(s._dg = a.cg, 'canary', 'baseline') AS side, row_number() OVER (PARTITION BY a.dep_id, s.metric, "
            f"side ORDER BY s.t, s.id) AS _nth FROM analyses AS a {join} "
            f"WHERE s.t >= a.t AND s.t < a.until AND (s._dg = a.cg OR s._dg = a.bg)) WHERE _nth <= {m.max_samples}")
    ranked = ("SELECT *, rank() OVER (PARTITION BY dep_id, metric ORDER BY value) AS _r, "
              "count() OVER (PARTITION BY dep_id, metric, value) AS _tie FROM kept")
    n1, n2 = "toFloat64(countIf(side = 'canary'))", "toFloat64(countIf(side = 'baseline'))"
    c_med, b_med = _median("groupArrayIf(value, side = 'canary')"), _median("groupArrayIf(value, side = 'baseline')")
    stats = (f"SELECT dep_id, metric, {n1} AS n1, {n2} AS n2, sumIf(_r + (_tie - 1) / 2, side = 'canary') AS r1, "
             f"toFloat64(sum(_tie * _tie - 1)) AS ties, r1 - n1 * (n1 + 1) / 2 AS u, n1 + n2 AS n, "
             f"n1 * n2 / 2 AS mu, n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) AS variance, "
             f"u - mu AS diff, if(variance <= 0, 0., if(diff < 0, -1, 1) * greatest(abs(diff) - 0.5, 0.) / sqrt(variance)) AS z, "
             f"if(variance <= 0, 1., least(1., erfc(abs(z) / sqrt(2.)))) AS p, 2 * u / (n1 * n2) - 1 AS delta, "
             f"{c_med} AS c_med, {b_med} AS b_med "
             f"FROM ranked GROUP BY dep_id, metric")
    bad = [metric.bad for metric, _, _ in rule.metrics]
    effect = [float(metric.effect) for metric, _, _ in rule.metrics]
    names = [metric.name for metric, _, _ in rule.metrics]
    critical = [int(metric.critical) for metric, _, _ in rule.metrics]
    worse = "multiIf(_bad = 'increase', delta > 0, _bad = 'decrease', delta < 0, delta != 0)"
    large = "abs(delta) >= _effect"
    significant = f"p < {quote(float(m.alpha))}"
    verdict = (f"multiIf(ifNull(n1, 0) < {m.min_samples} OR ifNull(n2, 0) < {m.min_samples}, 'nodata', "
               f"{worse} AND {significant} AND {large}, 'fail', {worse} AND ({significant} OR {large}), 'marginal', 'pass')")
    per = (f"SELECT a.*, i AS metric, {_array(names)}[i + 1] AS _name, {_array(bad)}[i + 1] AS _bad, "
           f"{_array(effect)}[i + 1] AS _effect, {_array(critical)}[i + 1] AS _critical "
           f"FROM analyses AS a ARRAY JOIN range({len(names)}) AS i")
    judged_metric = (f"SELECT p.*, st.n1 AS n1, st.n2 AS n2, st.p AS p, st.delta AS delta, st.c_med AS c_med, "
                     f"st.b_med AS b_med, {verdict} AS mv FROM ({per}) AS p LEFT JOIN stats AS st "
                     f"ON p.dep_id = st.dep_id AND p.metric = st.metric SETTINGS join_use_nulls = 1")
    shown = ("tuple(_name, mv, if(mv = 'nodata', NULL, round(p, 6)), if(mv = 'nodata', NULL, round(delta, 4)), "
             "c_med, b_med, toUInt64(ifNull(n1, 0)), toUInt64(ifNull(n2, 0)))")
    judged_n = "countIf(mv != 'nodata')"
    score = (f"if({judged_n} = 0, NULL, round(100 * (countIf(mv = 'pass') + 0.5 * countIf(mv = 'marginal')) "
             f"/ {judged_n}, 2))")
    overall = (f"multiIf({judged_n} = 0, 'inconclusive', countIf(mv = 'fail' AND _critical = 1) > 0, 'fail', "
               f"score >= {quote(float(m.pass_score))}, 'pass', score >= {quote(float(m.marginal_score))}, 'marginal', "
               "'fail')")
    recommendation = f"transform(verdict, {_array(list(_RECOMMENDATION))}, {_array(list(_RECOMMENDATION.values()))}, '')"
    judged = (f"SELECT {g}dep_id, any(t) AS t, any(until) AS until, any(version) AS version, any(cg) AS cg, "
              f"any(bg) AS bg, {score} AS score, {overall} AS verdict, {recommendation} AS recommendation, "
              f"arraySort(x -> indexOf({_array(names)}, x.1), groupArray({shown})) AS metrics "
              f"FROM judged_metric GROUP BY {g}dep_id")
    ctes = [("deps", deps), ("analyses", analyses), ("samples", samples), ("kept", kept), ("ranked", ranked),
            ("stats", stats), ("judged_metric", judged_metric), ("judged", judged)]
    with_ = ",\n".join(f"{name} AS (\n  {sql}\n)" for name, sql in ctes)
    alert_on = ", ".join(quote(v) for v in m.alert_on)
    return (
        f"WITH {with_}\n"
        f"SELECT {g}toDateTime64(t, 3, 'UTC') AS started, toDateTime64(until, 3, 'UTC') AS fired, verdict, score, "
        f"recommendation, version, cg AS canary_group, bg AS baseline_group, dep_id AS event_id, metrics\n"
        f"FROM judged WHERE verdict IN ({alert_on}) AND until >= toFloat64(now()) - {int(since_s)} ORDER BY fired"
    )
