"""to_sql: pattern and compliance queries return exactly the events the live evaluator matches.

The library's own test-case events are loaded into an in-process ClickHouse
(chDB) built from the real DDL in schemas/migrations, and each rule's query is
compared with the evaluator on the same events.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from streams.detect.evaluators.pattern import ComplianceEvaluator
from streams.detect.loader import load_path
from streams.detect.ruletest import EPOCH, build_items
from streams.detect.sql import SqlUnsupported, output_kind, quote, to_sql
from tests.unit.streams.detect.helpers import compile_rule

ROOT = Path(__file__).resolve().parents[4]
WEEK = 604800


def test_quoting_and_unsupported_kinds():
    assert quote("it's \\ fine") == "'it\\'s \\\\ fine'"
    assert (quote(None), quote(True), quote(1.5)) == ("NULL", "true", "1.5")
    rule = compile_rule("kind: absence\nsource: signals\nwindow: 5m\n")
    with pytest.raises(SqlUnsupported, match="source 'signals' has no table to backtest against"):
        to_sql(rule)


def test_windowed_threshold_slides_over_events():
    rule = compile_rule("""\
        kind: threshold
        source: logs
        filter: severity_number >= 17
        group_by: [service]
        window: 5m
        condition: count_over(severity_number) > 100 and service != "batch"
    """)
    sql = to_sql(rule, "1d", database="db")
    # One row per event time; the window slides like the evaluator's (bucket end > t - 300 s).
    assert "RANGE BETWEEN 299999999 PRECEDING AND CURRENT ROW" in sql
    assert "(ifNull(_w0 > 100, 0) AND ifNull(`service` != 'batch', 0))" in sql
    assert "FROM db.logs WHERE ts >= now64(6) - toIntervalSecond(86700)" in sql  # 1d plus the window


def _shifted(items: list[dict]) -> list[dict]:
    # Whole weeks keep weekdays and times of day, which change windows depend on.
    shift = ((time.time() - 6 * 86400 - EPOCH) // WEEK + 1) * WEEK
    return [{**item, "ts": item["ts"] + shift, "observed_ts": item["ts"] + shift} for item in items]


@pytest.fixture(scope="module")
def library_events():
    result = load_path(ROOT / "rules")
    events: dict[str, dict[str, dict]] = {"log": {}, "security": {}, "metric": {}}
    for loaded in result.rules:
        for case_index, case in enumerate(loaded.model.tests):
            for index, step in enumerate(case.input):
                if step.item_kind not in events:
                    continue
                for item in _shifted(build_items(step, index, EPOCH)):
                    item["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{loaded.id}/{case_index}/{item['event_id']}"))
                    events[step.item_kind][item["event_id"]] = item
    return result.rules, events


@pytest.fixture(scope="module")
def clickhouse(library_events, tmp_path_factory):
    chdb_session = pytest.importorskip("chdb.session")
    import orjson

    session = chdb_session.Session(str(tmp_path_factory.mktemp("chdb")))
    session.query("CREATE DATABASE IF NOT EXISTS bt")
    ddl = (ROOT / "schemas" / "migrations" / "0001_core_tables.sql").read_text()
    code = "\n".join(line for line in ddl.splitlines() if not line.strip().startswith("--"))
    for statement in code.split(";\n"):
        if "CREATE TABLE" in statement:
            session.query(statement.rstrip().rstrip(";").format(db="bt", ttl_days=3650, dedup_window=0))
    _, events = library_events
    for kind, table in (("log", "logs"), ("security", "security_events"), ("metric", "metrics")):
        rows = [{k: v for k, v in item.items() if k != "kind"} for item in events[kind].values()]
        payload = b"\n".join(orjson.dumps(row) for row in rows).decode()
        session.query(f"INSERT INTO bt.{table} FORMAT JSONEachRow {payload}")
    yield session
    session.close()


def test_library_queries_match_the_evaluator(library_events, clickhouse):
    rules, events = library_events
    source_kind = {"logs": "log", "security": "security", "metrics": "metric"}
    checked = 0
    for loaded in rules:
        rule = loaded.rule
        try:
            sql = to_sql(rule, "30d", database="bt")
        except SqlUnsupported:
            continue
        if output_kind(rule) != "events":
            continue  # firing intervals and sequence alerts: test_sql_backtest.py
        rows = clickhouse.query(sql, "JSONEachRow").bytes().decode().splitlines()
        from_sql = {json.loads(row)["event_id"] for row in rows}
        expected = set()
        for event_id, item in events[source_kind[rule.model.source]].items():
            if not rule.accepts(item):
                continue
            if isinstance(rule, ComplianceEvaluator) and not rule.violates(item):
                continue
            expected.add(event_id)
        assert from_sql == expected, loaded.id
        assert expected, f"{loaded.id}: no event matched, the comparison proves nothing"
        checked += 1
    assert checked >= 7
