"""Backtest SQL of absence rules agrees with the stream evaluator.

Heartbeats (raw metrics, and log rollups) with random silences go into chDB and through
streams.detect.engine.Engine, items arriving at their event time (the stream uses arrival
time: the two agree only then) and the timer ticking every minute. Each silence both
report must be the same: group, resolution time; the stream fires on its first tick at or
after last_seen + window, the backtest at last_seen + window.
"""

from __future__ import annotations

import math
import random
import time

import pytest

from tests.unit.streams.detect.backtest_harness import (
    backtest,
    in_stream,
    load,
    raw_event,
    recent,
    rollup_item,
)
from tests.unit.streams.detect.helpers import compile_rule


def _beat(n: int, ts: float, host: str, name: str = "heartbeat") -> dict:
    return raw_event({"kind": "metric", "event_id": f"hb-{n}", "ts": ts, "observed_ts": ts, "tenant": "default",
                      "service": "agent", "env": "prod", "host": host, "name": name, "type": "gauge", "value": 1.0,
                      "unit": "", "labels": {}, "attributes": {}})


def assert_silences_agree(got: list[dict], want: list[dict], label: str) -> None:
    assert len(got) == len(want), f"{label}\nbacktest: {got}\nstream:   {want}"

    def order(entry: dict) -> tuple:  # the firing times differ by the tick: order by what both know
        return sorted(entry["group"].items()), entry["resolved"] or math.inf

    for g, w in zip(sorted(got, key=order), sorted(want, key=order), strict=True):
        assert g["group"] == w["group"], (label, g, w)
        assert w["fired"] - 60 <= g["fired"] <= w["fired"] + 1e-3, (label, g, w)  # the stream's tick
        assert g["started"] == g["fired"] and w["started"] == w["fired"], (label, g, w)
        assert g["resolved_by"] == w["resolved_by"], (label, g, w)
        assert g["resolved"] == pytest.approx(w["resolved"], abs=1e-3) if w["resolved"] else g["resolved"] is None
        assert w["value"] - 60 <= g["value"] <= w["value"] + 1e-3, (label, g, w)  # silent_for at firing


def test_random_heartbeats_and_an_expected_group_that_never_reports(ch):
    rng = random.Random(4)
    t0 = recent(0.0) - 9 * 3600  # whole minutes: the stream's first tick arms the expected groups
    items, n = [], 0
    for host in ("web-1", "web-2", "db-1"):
        t = t0 + rng.uniform(0, 30)
        while t < t0 + 8 * 3600:
            n += 1
            items.append(_beat(n, t, host))
            # Silences either under the window or a minute past it: the stream can only fire on
            # a tick inside the silence, so one barely longer than the window may escape it.
            t += rng.choice([10.0, 10.0, 30.0, 45.5, 300.0, 599.0, 660.5, 780.25, 3000.0])
    items.append(_beat(n + 1, t0 + 3600, "web-3", name="other"))  # not a heartbeat
    items.append(_beat(n + 2, t0, "clock"))  # first item: the engine's first tick is t0 + 60
    load(ch, items)
    rule = compile_rule("""\
        kind: absence
        source: metrics
        filter: name == "heartbeat" and host != "clock"
        group_by: [host]
        window: 10m
        expect: [{host: web-1}, {host: web-9}]
    """)
    want = in_stream(rule, items)
    assert {w["group"]["host"] for w in want} == {"web-1", "web-2", "db-1", "web-9"}
    assert {w["resolved_by"] for w in want} == {"condition", ""}
    # The stream armed the expected groups at its first tick (t0 + 60): start the backtest there.
    since = math.floor(time.time() - (t0 + 60))
    assert_silences_agree(backtest(ch, rule, since), want, "heartbeats")


def test_rollup_windows_count_as_items(ch):
    base = recent(0.0) - 4 * 3600
    minutes = [m for m in range(120) if not (20 <= m < 31 or 70 <= m < 74 or m >= 110)]
    items = [rollup_item({"family": "log", "window_start": base + 60 * m, "count": 10, "errors": 0,
                          "series": {"service": "ledger"}}) for m in minutes]
    load(ch, items)
    rule = compile_rule("""\
        kind: absence
        source: rollups
        filter: family == "log"
        group_by: [series.service]
        window: 5m
    """)
    want = in_stream(rule, items)
    assert [w["resolved_by"] for w in want] == ["condition", "condition", ""]  # 12 min, exactly 5 min, ongoing
    assert_silences_agree(backtest(ch, rule, "1d"), want, "rollups")
