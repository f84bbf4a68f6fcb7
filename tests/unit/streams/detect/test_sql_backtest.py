"""Backtest SQL of threshold, ratio and sequence rules agrees with the stream evaluator.

Items go into an in-process ClickHouse (chDB) built from the real DDL in
schemas/migrations, raw events into the event tables and rollup items through
the store's own insert statements (streams/aggregate/clickhouse.py) into the
1-minute rollup tables; the same items run through streams.detect.engine.Engine
(with a timer tick every minute of event time). The firing intervals (or
sequence alerts) both report must be the same.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.aggregate import merge_partials
from streams.aggregate.clickhouse import partials_to_columns, rollup_insert_sql
from streams.aggregate.partials import SERIES, series_key
from streams.aggregate.sketch import DDSketch
from streams.detect.engine import Engine
from streams.detect.evaluators.base import item_time
from streams.detect.loader import load_path
from streams.detect.ruletest import EPOCH, build_items
from streams.detect.sql import SqlUnsupported, output_kind, to_sql
from tests.unit.streams.detect.helpers import compile_rule

ROOT = Path(__file__).resolve().parents[4]
DB = "bt"
RAW_TABLES = {"log": "logs", "security": "security_events", "metric": "metrics", "deployment": "deployments"}


@pytest.fixture(scope="module")
def ch(tmp_path_factory):
    yield from chdb_database(tmp_path_factory)


def chdb_database(tmp_path_factory):
    """An in-process ClickHouse with the real DDL (the `ch` fixture of the test_sql_* modules)."""
    chdb_session = pytest.importorskip("chdb.session")
    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb_backtest")))
    session.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
    for name in ("0001_core_tables.sql", "0005_rollups.sql", "0012_deployments.sql"):
        ddl = (ROOT / "schemas" / "migrations" / name).read_text()
        code = "\n".join(line for line in ddl.splitlines() if not line.strip().startswith("--"))
        for statement in code.split(";\n"):
            if statement.strip():
                session.query(statement.rstrip().rstrip(";").format(db=DB, ttl_days=3650, dedup_window=0))
    yield session
    session.close()


def rollup_item(template: dict) -> dict:
    """A rule-test rollup completed to the merged partial the detect stage sees."""
    family = template["family"]
    series = {dim: "" for dim in SERIES[family]} | {"tenant": "default"} | template.get("series", {})
    if family == "metric":
        series.setdefault("labels", {})
        series["labels"] = series["labels"] or {}
    p = {"v": 1, "family": family, "window_start": float(template["window_start"]), "window_s": 60,
         "series": series, "key": series_key(family, [series[d] for d in SERIES[family]])}
    if family == "log":
        count, errors = template.get("count", 0), template.get("errors", 0)
        p.update(count=count, errors=errors,
                 severity={k: v for k, v in {"ERROR": [errors, errors], "INFO": [count - errors, 0]}.items() if v[0]})
    elif family == "security":
        p["count"] = template.get("count", 0)
    elif family in ("security_actor", "security_source_ip"):
        p.update(count=template.get("count", 0), failures=template.get("failures", 0))
    elif family == "payment":
        p.update(count=template.get("count", 0), failures=template.get("failures", 0),
                 amount_sum=float(template.get("amount_sum", 0.0)), amount_count=template.get("amount_count", 0))
    elif family == "metric":
        v = float(next(template[k] for k in ("last", "max", "min", "sum", "increase") if k in template))
        p.update(type="gauge", unit="", count=template.get("count", 1), sum=float(template.get("sum", v)),
                 min=float(template.get("min", v)), max=float(template.get("max", v)),
                 last=float(template.get("last", v)), last_ts=p["window_start"] + 30)
        if "increase" in template:
            p.update(type="counter", increase=float(template["increase"]))
        else:
            sketch = DDSketch()
            sketch.add(v)
            p["sketch"] = sketch.to_dict()
    else:
        raise AssertionError(f"no completion for family {family}")
    return merge_partials([p])[0]


def raw_event(item: dict) -> dict:
    event = {k: v for k, v in item.items() if k != "kind"}
    event["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, str(item["event_id"])))
    return {**event, "kind": item["kind"]}


def load(ch, items: list[dict]) -> None:
    for table in (*RAW_TABLES.values(), "rollup_counts_1m", "rollups_1m", "rollups_1h", "rollups_1d"):
        ch.query(f"TRUNCATE TABLE {DB}.{table}")
    for kind, table in RAW_TABLES.items():
        rows = [{k: v for k, v in i.items() if k != "kind"} for i in items if i.get("kind") == kind]
        if rows:
            payload = b"\n".join(orjson.dumps(row) for row in rows).decode()
            ch.query(f"INSERT INTO {DB}.{table} FORMAT JSONEachRow {payload}")
    columns = partials_to_columns([i for i in items if "family" in i])
    for table, (sql, _names) in rollup_insert_sql(DB).items():
        data = columns[table]  # noqa: F841 - read by chDB's Python(data) table function
        if data["ts"]:
            ch.query(sql)


def _epoch(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def backtest(ch, rule, since: str = "30d") -> list[dict]:
    rows = [json.loads(r) for r in ch.query(to_sql(rule, since, DB), "JSONEachRow").bytes().decode().splitlines()]
    groups = [text for text, _ in rule.group_paths]
    out = []
    for row in rows:
        got = {"group": {g: row[g] for g in groups}, "started": _epoch(row["started"]), "fired": _epoch(row["fired"])}
        if output_kind(rule) == "alerts":
            got.update(count=int(row["count"]), event_id=row["event_id"])
        elif output_kind(rule) == "verdicts":
            got.update(verdict=row["verdict"], score=row["score"], version=row["version"], event_id=row["event_id"],
                       metrics=[dict(zip(_VERDICT_KEYS, m, strict=True)) for m in row["metrics"]])
        else:
            got.update(resolved=_epoch(row["resolved"]), resolved_by=row["resolved_by"], value=row["value"])
            if "baseline" in row:  # anomaly
                got.update(baseline=row["baseline"], z=row["z"])
        out.append(got)
    return sorted(out, key=_order)


def _order(entry: dict) -> tuple:
    return (entry["fired"], entry["started"], sorted(entry["group"].items()))


_VERDICT_KEYS = ("name", "verdict", "p_value", "delta", "canary_median", "baseline_median", "n_canary", "n_baseline")


def stream_alerts(rule, items: list[dict], now: float | None = None) -> list[dict]:
    """The engine's alerts for the items in event-time order, with a tick every minute."""
    engine = Engine([rule], strict=True)
    alerts: list[dict] = []
    ordered = sorted(items, key=item_time)
    next_tick = item_time(ordered[0]) + 60 if ordered else 0.0
    for item in ordered:
        t = item_time(item)
        while next_tick <= t:
            alerts.extend(engine.tick(next_tick))
            next_tick += 60
        alerts.extend(engine.process(item, t))
    end = item_time(ordered[-1]) + max(3 * 3600, getattr(rule, "stale_after", 0.0) + 3600) if ordered else 0.0
    while next_tick <= min(end, now or time.time()):
        alerts.extend(engine.tick(next_tick))
        next_tick += 60
    return alerts


def in_stream(rule, items: list[dict], now: float | None = None) -> list[dict]:
    """What the engine reports for the items, in the shape `backtest` returns."""
    out: list[dict] = []
    open_: dict[str, dict] = {}
    for alert in stream_alerts(rule, items, now):
        if output_kind(rule) == "verdicts":
            values = alert["values"]
            out.append({"group": alert["group"], "started": alert["starts_at"], "fired": alert["ts"],
                        "verdict": values["verdict"], "score": values["score"], "version": values["version"],
                        "event_id": alert["event_ids"][0], "metrics": values["metrics"]})
        elif output_kind(rule) == "alerts":
            out.append({"group": alert["group"], "started": alert["starts_at"], "fired": alert["ts"],
                        "count": alert["value"], "event_id": alert["event_ids"][-1]})
        elif alert["status"] == "firing":
            open_[alert["fingerprint"]] = entry = {"group": alert["group"], "started": alert["starts_at"],
                                                   "fired": alert["ts"], "resolved": None, "resolved_by": "",
                                                   "value": alert["value"]}
            if rule.kind == "anomaly":
                entry.update(baseline=alert["values"]["baseline"], z=alert["values"]["z"])
            out.append(entry)
        else:
            entry = open_.pop(alert["fingerprint"])
            entry["resolved"] = alert["ts"]
            entry["resolved_by"] = "no data" if alert["values"].get("reason") == "no data" else "condition"
    return sorted(out, key=_order)


def assert_agree(got: list[dict], want: list[dict], label: str) -> None:
    assert len(got) == len(want), f"{label}\nbacktest: {got}\nstream:   {want}"
    for g, w in zip(got, want, strict=True):
        assert g["group"] == w["group"], label
        assert g["started"] == pytest.approx(w["started"], abs=1e-3), (label, g, w)
        if "verdict" in w:
            # The backtest reports the end of the analysis; the stream finishes on its next
            # timer tick (every minute here) or on the group's first sample after the end.
            assert w["fired"] - 60 <= g["fired"] <= w["fired"] + 1e-3, (label, g, w)
        else:
            assert g["fired"] == pytest.approx(w["fired"], abs=1e-3), (label, g, w)
        if "count" in w:
            assert (g["count"], g["event_id"]) == (w["count"], w["event_id"]), (label, g, w)
            continue
        if "verdict" in w:
            assert (g["verdict"], g["score"], g["version"], g["event_id"]) == \
                (w["verdict"], w["score"], w["version"], w["event_id"]), (label, g, w)
            for gm, wm in zip(g["metrics"], w["metrics"], strict=True):
                assert gm.keys() == wm.keys(), (label, gm, wm)
                for key, value in wm.items():
                    if isinstance(value, float):
                        assert gm[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (label, key, gm, wm)
                    else:
                        assert gm[key] == value, (label, key, gm, wm)
            continue
        assert g["resolved_by"] == w["resolved_by"], (label, g, w)
        if w["resolved"] is None:
            assert g["resolved"] is None, (label, g, w)
        else:
            # The stream resolves "no data" on its next timer tick (every minute here).
            slack = 60.0 if w["resolved_by"] == "no data" else 1e-3
            assert w["resolved"] - slack <= g["resolved"] <= w["resolved"] + 1e-3, (label, g, w)
        if isinstance(w["value"], int | float):
            assert float(g["value"]) == pytest.approx(w["value"], rel=1e-9), (label, g, w)
        if "baseline" in w:
            assert g["baseline"] == pytest.approx(w["baseline"], rel=1e-9, abs=1e-12), (label, g, w)
            assert (g["z"] is None) == (w["z"] is None), (label, g, w)
            if w["z"] is not None:
                assert g["z"] == pytest.approx(w["z"], abs=2e-4), (label, g, w)


def _recent(base: float) -> float:
    """A shift that puts EPOCH-based test times a few hours in the past, minute-aligned."""
    return ((time.time() - 6 * 3600 - base) // 3600) * 3600


def case_items(loaded, case, shift: float) -> list[dict]:
    items = []
    for index, step in enumerate(loaded.model.tests[case].input):
        if step.tick is not None:
            continue
        for item in build_items(step, index, EPOCH):
            if step.item_kind == "rollup":
                items.append(rollup_item({**item, "window_start": item["window_start"] + shift}))
            else:
                items.append(raw_event({**item, "ts": item["ts"] + shift, "observed_ts": item["ts"] + shift,
                                        "event_id": f"{loaded.id}/{case}/{item['event_id']}"}))
    return items


def test_library_rule_cases_agree_with_the_engine(ch):
    rules = load_path(ROOT / "rules").rules
    checked, fired = set(), 0
    for loaded in rules:
        try:
            to_sql(loaded.rule, "30d", DB)
        except SqlUnsupported:
            continue
        if output_kind(loaded.rule) == "events" or loaded.rule.kind == "absence":
            continue  # test_sql.py compares pattern/compliance event by event, test_sql_absence.py absence
        for case in range(len(loaded.model.tests)):
            # Whole hours (seasonal slots stay put), the case's last item a few hours ago
            # (so the stream's timer has run past it, and nothing lies in the future).
            last = max((item_time(i) for i in case_items(loaded, case, 0.0)), default=EPOCH)
            items = case_items(loaded, case, _recent(last))
            load(ch, items)
            want = in_stream(loaded.rule, items)
            assert_agree(backtest(ch, loaded.rule), want, f"{loaded.id} case {case}")
            fired += len(want)
        checked.add(loaded.id)
    assert {"payments.provider_failure_ratio", "sre.error_ratio_high", "sre.queue_depth_high", "sre.consumer_lag",
            "sre.disk_almost_full", "security.ssh_brute_force", "security.success_after_failures",
            "payments.refund_spike", "payments.volume_drop", "payments.chargeback_anomaly", "sre.error_log_spike",
            "deployments.canary_fail"} <= checked
    assert fired >= 6, "too few alerts: the comparison proves little"


def test_unsupported_kinds_and_families_say_why():
    cases = {
        "kind: anomaly\nsource: rollups\nfilter: family == 'histogram'\nvalue: p99\nmethod: ewma\n": "histogram rollups are not stored",
        "kind: absence\nsource: signals\nwindow: 5m\n": "source 'signals' has no table to backtest against",
        ("kind: canary\nsource: deployments\nsamples: rollups\ngroup_by: [service]\n"
         "metrics: [{name: l, filter: 'family == \"metric\"', value: max}]\n"): "canary samples from rollups have no SQL form",
        ("kind: canary\nsource: deployments\ngroup_by: [host]\n"
         "metrics: [{name: l, filter: 'name == \"x\"'}]\n"): "group_by 'host' is not a column of the deployments table",
        ("kind: ratio\nsource: rollups\nfilter: family == 'histogram'\nnumerator: count\ndenominator: count\n"
         "window: 5m\ncondition: ratio > 1\n"): "histogram rollups are not stored",
        ("kind: ratio\nsource: rollups\nnumerator: failures\ndenominator: count\nwindow: 5m\n"
         "condition: ratio > 1\n"): 'needs `family == "..."`',
        ("kind: ratio\nsource: rollups\nfilter: family == 'payment'\nnumerator: failures\ndenominator: count\n"
         "window: 5m\ncondition: ratio > 0.1 and p99 > 3\n"): "field 'p99' is not available in a ratio condition",
    }
    for body, message in cases.items():
        with pytest.raises(SqlUnsupported, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
            to_sql(compile_rule(body))


def _payment(minute: int, provider: str, count: int, failures: int, merchant: str = "m1") -> dict:
    base = _recent(0.0) - 3 * 3600
    return rollup_item({"family": "payment", "window_start": base + 60 * minute, "count": count,
                        "failures": failures, "series": {"provider": provider, "merchant": merchant}})


def test_ratio_with_two_windows_gaps_and_no_data(ch):
    rule = compile_rule("""\
        kind: ratio
        source: rollups
        filter: family == "payment"
        group_by: [series.provider]
        numerator: failures
        denominator: count
        window: 5m
        windows: {long: 20m}
        min_denominator: 50
        condition: ratio > 0.05 and ratio_long > 0.02
        for: 2m
    """)
    items = [_payment(m, "adyen", 100, 10 if 5 <= m < 15 else 0) for m in range(30)]
    items += [_payment(m, "stripe", 100, 20) for m in (0, 1, 2, 3, 4, 6, 7)]  # silent after 7: "no data"
    items += [_payment(m, "stripe", 100, 20) for m in range(60, 66)]  # back, fires again, still firing
    items += [_payment(m, "tiny", 9, 8) for m in range(20)]  # below min_denominator in 5m
    load(ch, items)
    want = in_stream(rule, items)
    assert {e["group"]["series.provider"] for e in want} == {"adyen", "stripe"}
    assert [e["resolved_by"] for e in want if e["group"]["series.provider"] == "stripe"] == ["no data", "no data"]
    assert [e["resolved_by"] for e in want if e["group"]["series.provider"] == "adyen"] == ["condition"]
    assert_agree(backtest(ch, rule, "1d"), want, "two windows")


def test_random_rollups_agree_with_the_engine(ch):
    rng = random.Random(5)
    rule = compile_rule("""\
        kind: ratio
        source: rollups
        filter: family == "payment"
        group_by: [series.provider]
        numerator: failures
        denominator: count
        window: 3m
        min_denominator: 20
        condition: ratio > 0.1
        for: 2m
    """)
    windowed = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "payment" and series.currency != "JPY"
        group_by: [series.provider]
        window: 4m
        condition: sum_over(failures) > 25 and max_over(failures, "2m") >= 5 and count_over(count) >= 2
        value: avg_over(failures)
        for: 1m
    """)
    items = []
    for provider in ("adyen", "stripe", "worldpay"):
        failing = False
        for minute in range(240):
            if rng.random() < 0.1:
                failing = not failing
            if rng.random() < 0.05:
                continue  # a minute without payments
            count = rng.randint(5, 60)
            failures = rng.randint(0, count // 3) if failing else rng.randint(0, 1)
            items.append(_payment(minute, provider, count, failures))
    load(ch, items)
    for r in (rule, windowed):
        want = in_stream(r, items)
        assert len(want) >= 5, want
        assert_agree(backtest(ch, r, "1d"), want, r.kind)


def test_metric_and_log_rollups(ch):
    base = _recent(0.0) - 2 * 3600
    rule = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "metric" and series.name == "queue_depth"
        group_by: [series.service, series.labels.queue]
        condition: max > 100 and series.labels.queue != "ignored"
        for: 3m
    """)
    items = []
    for minute in range(40):
        for queue, depth in (("a", 150 if minute % 10 < 6 else 50), ("b", 20), ("ignored", 500)):
            items.append(rollup_item({"family": "metric", "window_start": base + 60 * minute, "max": depth,
                                      "series": {"service": "payouts", "name": "queue_depth",
                                                 "labels": {"queue": queue}}}))
        items.append(rollup_item({"family": "log", "window_start": base + 60 * minute, "count": 100,
                                  "errors": 30 if minute > 30 else 1, "series": {"service": "api"}}))
    counter = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "metric" and series.name == "refunds_total"
        window: 5m
        condition: sum_over(increase) > 40
    """)
    for minute in range(40):
        items.append(rollup_item({"family": "metric", "window_start": base + 60 * minute, "increase": 10 + minute % 7,
                                  "series": {"service": "payouts", "name": "refunds_total"}}))
    errors = compile_rule("""\
        kind: threshold
        source: rollups
        filter: family == "log"
        group_by: [series.service]
        condition: error_ratio > 0.2
        for: 2m
    """)
    load(ch, items)
    for r in (rule, counter, errors):
        want = in_stream(r, items)
        assert want, r.model.condition
        assert_agree(backtest(ch, r, "1d"), want, r.model.condition)


def test_raw_threshold_with_sliding_windows_and_for(ch):
    rule = compile_rule("""\
        kind: threshold
        source: logs
        filter: severity_number >= 17
        group_by: [service]
        window: 2m
        condition: count_over(severity_number) >= 5
        for: 30s
    """)
    rng = random.Random(7)
    start = _recent(0.0) - 3600
    items = []
    for n in range(400):
        ts = start + rng.uniform(0, 1800)
        items.append(raw_event({"kind": "log", "event_id": f"log-{n}", "ts": ts, "observed_ts": ts,
                                "tenant": "default", "service": rng.choice(["api", "web"]), "env": "prod",
                                "host": "h", "severity_number": rng.choice([9, 17, 17]), "severity_text": "x",
                                "message": "m", "trace_id": "", "span_id": "", "attributes": {}}))
    load(ch, items)
    want = in_stream(rule, items)
    assert len(want) >= 3
    assert_agree(backtest(ch, rule, "1d"), want, "raw sliding threshold")


def _login(n: int, ts: float, ip: str, outcome: str) -> dict:
    return raw_event({"kind": "security", "event_id": f"login-{n}", "ts": ts, "observed_ts": ts, "tenant": "default",
                      "service": "sshd", "env": "prod", "host": "bastion", "category": "authentication",
                      "action": "login", "outcome": outcome, "actor": "root", "target": "root", "source_ip": ip,
                      "severity_number": 9, "severity_text": "info", "message": "", "attributes": {"protocol": "ssh"}})


def test_sequences_reset_arm_expire_and_throttle(ch):
    rng = random.Random(11)
    start = _recent(0.0) - 3600
    items, n = [], 0
    for ip in ("203.0.113.1", "203.0.113.2", "198.51.100.7", "10.250.0.9"):
        t = start
        for _ in range(150):
            t += rng.choice([1, 2, 5, 20, 60, 400])
            n += 1
            items.append(_login(n, t, ip, "failure" if rng.random() < 0.8 else "success"))
    # Exactly `within` apart is outside the window (the evaluator keeps hits newer than t - within).
    for k in range(8):
        items.append(_login(1000 + k, start + 20 * k, "192.0.2.99", "failure"))
    items.append(_login(2000, start + 30 * 60, "192.0.2.99", "failure"))
    load(ch, items)
    bodies = [
        "kind: sequence\nsource: security\nfilter: attributes.protocol == 'ssh'\ngroup_by: [source_ip]\n"
        "first: {match: {outcome: failure, source_ip|cidr|not: [10.250.0.0/16]}, count: 4, within: 1m}\n",
        "kind: sequence\nsource: security\ngroup_by: [source_ip]\n"
        "first: {match: {outcome: failure}, count: 4, within: 1m}\nthrottle: 15m\n",
        "kind: sequence\nsource: security\ngroup_by: [source_ip]\n"
        "first: {match: {category: authentication, outcome: failure}, count: 3, within: 2m}\n"
        "then: {match: {outcome: success}, within: 1m}\n",
    ]
    for body in bodies:
        rule = compile_rule(body)
        want = in_stream(rule, items)
        assert len(want) >= 3, body
        assert_agree(backtest(ch, rule, "1d"), want, body)
