"""Shared by the backtest tests: an in-process ClickHouse with the real DDL, items
loaded as the store writes them, the stream engine's answer for the same items, and
the comparison of both.

Items go into chDB built from schemas/migrations, raw events into the event tables
and rollup items through the store's own insert statements
(streams/aggregate/clickhouse.py) into the 1-minute rollup tables; the same items run
through streams.detect.engine.Engine (with a timer tick every minute of event time).
"""

from __future__ import annotations

import json
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
from streams.detect.ruletest import EPOCH, build_items
from streams.detect.sql import output_kind, to_sql

ROOT = Path(__file__).resolve().parents[4]
DB = "bt"
RAW_TABLES = {"log": "logs", "security": "security_events", "metric": "metrics", "deployment": "deployments"}


def chdb_database(tmp_path_factory):
    """An in-process ClickHouse with the real DDL (the `ch` fixture, conftest.py)."""
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


def epoch(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def backtest(ch, rule, since: str = "30d") -> list[dict]:
    rows = [json.loads(r) for r in ch.query(to_sql(rule, since, DB), "JSONEachRow").bytes().decode().splitlines()]
    groups = [text for text, _ in rule.group_paths]
    out = []
    for row in rows:
        got = {"group": {g: row[g] for g in groups}, "started": epoch(row["started"]), "fired": epoch(row["fired"])}
        if output_kind(rule) == "alerts":
            got.update(count=int(row["count"]), event_id=row["event_id"])
        elif output_kind(rule) == "verdicts":
            got.update(verdict=row["verdict"], score=row["score"], version=row["version"], event_id=row["event_id"],
                       metrics=[dict(zip(_VERDICT_KEYS, m, strict=True)) for m in row["metrics"]])
        else:
            got.update(resolved=epoch(row["resolved"]), resolved_by=row["resolved_by"], value=row["value"])
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


def recent(base: float) -> float:
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
