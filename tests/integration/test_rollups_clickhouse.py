"""Partial rollups from several workers land in chDB and merge into exact-enough percentiles.

Runs the real migration text through the migration runner's statement splitter,
inserts with the statements of streams.aggregate.clickhouse, and compares the
views with exact quantiles over the raw values in the same engine.
"""

from __future__ import annotations

import math
import random
import time

import orjson
import pytest

from sinks.clickhouse.migrate import available_migrations, split_statements
from streams.aggregate import WindowAggregator, WindowConfig, merge_partials
from streams.aggregate.clickhouse import partials_to_columns, rollup_insert_sql
from streams.aggregate.sketch import DDSketch
from tests.unit.streams.aggregate.events import log, metric

pytestmark = pytest.mark.integration

ALPHA = 0.01
DB = "sluice_rollups_test"
N = 10_000
WORKERS = 3
# Recent times: the rollup tables have a TTL, and older rows would be dropped on merge.
HOUR = float(int(time.time()) // 3600 * 3600 - 3600)
LEVELS = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    chdb_session = pytest.importorskip("chdb.session")
    s = chdb_session.Session(str(tmp_path_factory.mktemp("chdb_rollups")))
    s.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
    (text,) = [sql for version, _, sql in available_migrations() if version == 5]
    for _ in range(2):  # every statement is idempotent
        for stmt in split_statements(text):
            s.query(stmt.rstrip(";").format(db=DB, ttl_days=30, dedup_window=100))
    yield s
    s.close()


def insert(s, partials: list[dict], token: str) -> None:
    columns = partials_to_columns(partials)
    for table, (sql, names) in rollup_insert_sql(DB, settings=f"insert_deduplication_token='{token}'").items():
        data = columns[table]
        assert list(data) == names
        if data["ts"]:
            s.query(sql)


def rows(s, sql: str) -> list[dict]:
    return [orjson.loads(line) for line in s.query(sql, "JSONEachRow").bytes().splitlines() if line]


@pytest.fixture(scope="module")
def loaded(session):
    """10,000 lognormal latencies over 5 minutes, spread at random over 3 workers."""
    rnd = random.Random(42)
    events = [metric(HOUR + 60 + rnd.uniform(0, 300), "latency_seconds", rnd.lognormvariate(-2, 1),
                     {"route": "/pay"}, unit="s") for _ in range(N)]
    events += [log(HOUR + 60 + i * 0.1, attributes={"provider": "adyen", "currency": "EUR", "merchant": "m1",
                                                    "amount": "2.5", "status": "declined" if i % 5 == 0 else "ok"})
               for i in range(500)]
    events.sort(key=lambda e: e["ts"])
    shares = [[] for _ in range(WORKERS)]
    for ev in events:
        shares[rnd.randrange(WORKERS)].append(ev)
    all_partials = []
    for w, share in enumerate(shares):
        clock = [HOUR]
        agg = WindowAggregator(WindowConfig(window_sizes_s=[10, 60]), clock=lambda c=clock: c[0])
        partials = []
        for i in range(0, len(share), 500):
            batch = share[i:i + 500]
            clock[0] = batch[-1]["ts"] + 1
            assert agg.add_batch(batch, partition=w) == []
            partials += agg.close_ready()
        partials += agg.flush_all()
        insert(session, partials, token=f"worker-{w}")
        all_partials += partials
    raw = {"ts": [e["ts"] for e in events if e["kind"] == "metric"],
           "v": [e["value"] for e in events if e["kind"] == "metric"]}
    assert len(raw["v"]) == N  # `raw` is read by Python(raw) below, from this frame
    session.query(f"CREATE TABLE IF NOT EXISTS {DB}.raw (ts DateTime64(6, 'UTC'), v Float64) "
                  "ENGINE = MergeTree ORDER BY ts")
    session.query(f"INSERT INTO {DB}.raw SELECT toDateTime64(ts, 6, 'UTC'), v FROM Python(raw)")
    return {"events": events, "partials": all_partials}


def exact(session, period: str) -> dict[int, dict]:
    # quantileExactWeighted with weight 1 is the exact quantile at rank ceil(q * n), the rank
    # convention of the sketch; quantileExact picks rank floor(q * n) + 1 instead.
    levels = ", ".join(str(q) for q in LEVELS.values())
    out = rows(session, f"SELECT toUnixTimestamp({period}(ts)) AS t, count() AS n, min(v) AS lo, max(v) AS hi, "
                        f"sum(v) AS total, argMax(v, ts) AS last, "
                        f"quantilesExactWeighted({levels})(v, 1) AS q FROM {DB}.raw GROUP BY t")
    return {r["t"]: r for r in out}


def check_view(session, view: str, period: str) -> list[dict]:
    got = rows(session, f"SELECT toUnixTimestamp(ts) AS t, * FROM {DB}.{view} WHERE name = 'latency_seconds' ORDER BY t")
    want = exact(session, period)
    assert [r["t"] for r in got] == sorted(want)
    for r in got:
        w = want[r["t"]]
        assert r["count"] == w["n"]
        assert (r["min"], r["max"], r["last"]) == (w["lo"], w["hi"], w["last"])
        assert math.isclose(r["sum"], w["total"], rel_tol=1e-9)
        assert r["labels"] == {"route": "/pay"} and r["unit"] == "s" and r["rate"] is None
        for (field, _), x in zip(LEVELS.items(), w["q"], strict=True):
            assert abs(r[field] - x) <= ALPHA * x, (view, r["t"], field, r[field], x)
    return got


def test_metrics_1m_percentiles_within_sketch_error_of_exact(session, loaded):
    got = check_view(session, "metrics_1m", "toStartOfMinute")
    assert len(got) == 5  # event times span [HOUR + 60, HOUR + 360)
    assert sum(r["count"] for r in got) == N


def test_metrics_1h_and_1d_merge_the_minutes(session, loaded):
    (hour,) = check_view(session, "metrics_1h", "toStartOfHour")
    assert hour["count"] == N
    (day,) = rows(session, f"SELECT count, p99 FROM {DB}.metrics_1d WHERE name = 'latency_seconds'")
    assert day == {"count": N, "p99": hour["p99"]}


def test_clickhouse_percentiles_equal_the_merged_python_sketch(session, loaded):
    minutes = [p for p in merge_partials(loaded["partials"]) if p["family"] == "metric" and p["window_s"] == 60]
    view = {r["t"]: r for r in rows(session, f"SELECT toUnixTimestamp(ts) AS t, p50, p99 FROM {DB}.metrics_1m")}
    assert len(minutes) == len(view)
    for p in minutes:
        sketch = DDSketch.from_dict(p["sketch"])
        r = view[int(p["window_start"])]
        assert (r["p50"], r["p99"]) == (sketch.quantile(0.5), sketch.quantile(0.99))


def test_count_rollups_and_replayed_inserts_deduplicate(session, loaded):
    before = rows(session, f"SELECT family, sum(count) AS n, sum(failures) AS f, sum(amount) AS a "
                           f"FROM {DB}.counts_1h GROUP BY family ORDER BY family")
    assert before == [{"family": "log", "n": 500, "f": 0, "a": 0.0},
                      {"family": "payment", "n": 500, "f": 100, "a": 1250.0}]
    # A replayed batch carries the same token: nothing lands twice, views included.
    minutes = [p for p in loaded["partials"] if p["window_s"] == 60 and p["family"] == "metric"]
    insert(session, minutes, token="replay")
    insert(session, minutes, token="replay")
    (row,) = rows(session, f"SELECT count FROM {DB}.metrics_1h WHERE name = 'latency_seconds'")
    assert row["count"] == 2 * N
