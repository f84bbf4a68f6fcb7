"""The benchmark harness's pure helpers: percentiles, RSS slopes and the flatness
verdict, target evaluation, the e2e in-flight cap, profile summaries and alert
matching. No timing assertions here: figures are the harness's job, not the suite's."""

from __future__ import annotations

import math

import pytest

from benchmarks.phases.alerts import _alert_fields
from benchmarks.phases.e2e import lag_cap
from benchmarks.phases.profile import top_functions
from benchmarks.phases.stats import (
    TARGETS,
    evaluate,
    max_rss,
    memory_flat,
    percentile,
    ratio,
    slope_per_min,
)
from benchmarks.run import derive, parse_args, sizes


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 99) == pytest.approx(3.97)
    assert percentile(reversed(values), 50) == pytest.approx(2.5)  # order does not matter


def test_percentile_of_one_or_no_value():
    assert percentile([0.7], 99) == 0.7
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_slope_is_per_minute_and_uses_only_the_last_window():
    # Flat for 60 s, then +2 MB per minute: the last-60-s slope sees only the growth.
    pts = [(t, 100.0) for t in range(0, 60, 5)] + [(t, 100.0 + (t - 60) / 30.0) for t in range(60, 125, 5)]
    assert slope_per_min(pts, last_s=60) == pytest.approx(2.0)
    assert slope_per_min([(0, 5.0), (30, 5.0), (60, 5.0)]) == pytest.approx(0.0)
    assert slope_per_min([(0, 1.0), (5, 2.0)]) is None  # too few samples
    assert slope_per_min([(3, 1.0), (3, 2.0), (3, 3.0)]) is None  # no time spread


def test_memory_flat_judges_each_process_and_exempts_the_broker():
    flat = [(t, 200.0 + (0.1 if t % 10 else 0.0)) for t in range(0, 300, 5)]
    growing = [(t, 200.0 + t / 20.0) for t in range(0, 300, 5)]  # 3 MB/min
    verdict = memory_flat({"sink": flat, "ingest-0": growing, "broker": growing}, last_s=240)
    assert verdict["sink"]["flat"] is True
    assert verdict["ingest-0"]["flat"] is False
    assert verdict["ingest-0"]["slope_mb_per_min"] == pytest.approx(3.0)
    assert verdict["broker"]["flat"] is None


def test_max_rss_ignores_the_in_memory_broker():
    assert max_rss({"broker": 3000.0, "sink": 420.0, "bench": 120.0}) == 420.0
    assert max_rss({"broker": 3000.0}) is None


def _good() -> dict:
    return {"e2e_events_per_s": 120_000, "e2e_vs_faust": 11.0, "ingest_vs_floor": 0.4, "freshness_p99_s": 0.8,
            "alert_latency_p99_s": 1.5, "alert_latency_windowed_p99_s": 14.0, "alert_window_s": 10.0,
            "rss_mb": {"sink": 300.0, "broker": 2000.0}, "e2e_missing": 0, "e2e_duplicates": 0}


def test_evaluate_every_target_met():
    met = evaluate(_good())
    assert set(met) == set(TARGETS)
    assert all(met.values())


def test_evaluate_misses_and_unmeasured_figures():
    r = _good()
    r.update(e2e_events_per_s=99_999, freshness_p99_s=1.01, alert_latency_windowed_p99_s=15.5,
             rss_mb={"sink": 501.0})
    r["alert_latency_p99_s"] = None
    met = evaluate(r)
    assert met["e2e_events_per_s"] is False
    assert met["freshness_p99_s"] is False
    assert met["alert_latency_windowed_p99_s"] is False  # window 10 s + 5
    assert met["rss_mb_max"] is False
    assert met["alert_latency_p99_s"] is None
    assert met["ingest_vs_floor"] is True


def test_evaluate_needs_a_window_for_the_windowed_target_and_a_clean_e2e():
    r = _good()
    r["alert_window_s"] = None
    r["e2e_missing"] = 3
    r["freshness_markers_unseen"] = 1
    met = evaluate(r)
    assert met["alert_latency_windowed_p99_s"] is None
    assert met["e2e_events_per_s"] is False  # fast but lossy is not met
    assert met["freshness_p99_s"] is False  # a marker that never showed up
    r.update(alert_window_s=10.0, alert_unfired_windowed=2)
    met = evaluate(r)
    assert met["alert_latency_windowed_p99_s"] is False  # incidents without an alert
    assert met["alert_latency_p99_s"] is True


def test_derive_ratios_per_core():
    r = {"e2e_events_per_s": 100_000.0, "faust_events_per_s": 8_000.0, "ingest_events_per_s_per_core": 90_000.0,
         "floor_events_per_s_per_core": 200_000.0, "ingest_events_per_s": 80_000.0,
         "floor_events_per_s": 160_000.0, "rss_mb": {"sink": 10.0}}
    derive(r)
    assert r["e2e_vs_faust"] == 12.5
    assert r["ingest_vs_floor"] == 0.45
    assert r["ingest_vs_floor_wall"] == 0.5
    assert r["rss_mb_max"] == 10.0
    assert ratio(1.0, 0.0) is None and ratio(None, 1.0) is None


def test_lag_cap_follows_the_recent_landing_rate():
    assert lag_cap([]) == 100_000
    samples = [(float(t), t * 50_000) for t in range(0, 21)]  # 50k rows/s
    assert lag_cap(samples) == 500_000  # 10 s of landing
    slow = [(float(t), t * 1_000) for t in range(0, 21)]
    assert lag_cap(slow) == 100_000  # never below the floor


def test_top_functions_of_collapsed_stacks():
    collapsed = "\n".join([
        "_run_module_as_main (<frozen runpy>:198);main (a.py:1);step (w.py:10);consume (r.py:5) 30",
        "_run_module_as_main (<frozen runpy>:198);main (a.py:1);step (w.py:12);process (p.py:7) 70",
        "Thread._bootstrap (threading.py:1002);poll (x.py:1) 500",
        "garbage line",
    ])
    top = top_functions(collapsed, thread="_run_module_as_main")
    assert top["self"][0] == ("process (p.py:7)", 0.7)
    assert ("main (a.py:1)", 1.0) in top["total"]
    everything = top_functions(collapsed, thread=None)
    assert everything["self"][0] == ("poll (x.py:1)", pytest.approx(500 / 600, abs=1e-4))


def test_alert_fields_read_the_v1_message():
    rule, status, labels = _alert_fields({"rule_id": "bench.incident_event", "status": "firing",
                                          "labels": {"rule_id": "bench.incident_event", "host": "bench-host-3"}})
    assert (rule, status) == ("bench.incident_event", "firing")
    assert "bench-host-3" in labels
    assert _alert_fields({}) == ("", "", set())


def test_sizes_and_options():
    quick, full = sizes(True, None), sizes(False, None)
    assert quick["e2e_s"] == 15 and full["e2e_s"] == 60
    assert sizes(False, 90)["e2e_s"] == 90
    args = parse_args(["--quick", "--only", "floor,e2e"])
    assert args.quick and args.only == ["floor", "e2e"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "nonsense"])
    assert not math.isnan(TARGETS["e2e_events_per_s"]["value"])
