import logging
import math

import orjson
import pytest
from pydantic import ValidationError

from streams.aggregate import WindowAggregator, WindowConfig, histogram_quantile, merge_partials
from streams.aggregate.sketch import DDSketch
from tests.unit.streams.aggregate.events import log, metric, security

T0 = 1_800_000_000.0  # a multiple of 60


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **cfg) -> WindowAggregator:
    """Two sizes unless given: these tests follow base windows into the coarse ones."""
    cfg.setdefault("window_sizes_s", [10, 60])
    return WindowAggregator(WindowConfig(**cfg), clock=clock)


def by(partials, family, window_s=None, **series):
    return [p for p in partials if p["family"] == family and (window_s is None or p["window_s"] == window_s)
            and all(p["series"].get(k) == v for k, v in series.items())]


def test_events_land_in_their_event_time_windows_and_coarse_windows_merge_base_ones():
    clock = Clock(T0 + 200)
    agg = make(clock, allowed_lateness_s=0)
    values = {T0 + 1: 1.0, T0 + 9.999: 2.0, T0 + 10: 4.0, T0 + 59.5: 8.0, T0 + 60: 16.0, T0 + 125: 0.0}
    assert agg.add_batch([metric(ts, "lat", v) for ts, v in values.items()]) == []
    parts = agg.close_ready()  # watermark T0 + 125
    tens = {p["window_start"]: p for p in by(parts, "metric", 10)}
    assert sorted(tens) == [T0, T0 + 10, T0 + 50, T0 + 60]
    assert tens[T0]["count"] == 2 and tens[T0]["sum"] == 3.0
    assert (tens[T0]["min"], tens[T0]["max"], tens[T0]["last"]) == (1.0, 2.0, 2.0)
    minutes = {p["window_start"]: p for p in by(parts, "metric", 60)}
    assert sorted(minutes) == [T0, T0 + 60]
    first = minutes[T0]
    assert (first["count"], first["sum"], first["min"], first["max"]) == (4, 15.0, 1.0, 8.0)
    assert first["last"] == 8.0 and first["last_ts"] == T0 + 59.5
    assert DDSketch.from_dict(first["sketch"]).count == 4
    assert all(isinstance(orjson.dumps(p), bytes) for p in parts)


def test_windows_close_only_behind_the_watermark_and_late_events_are_returned():
    clock = Clock(T0 + 100)
    agg = make(clock, allowed_lateness_s=30)
    agg.add_batch([metric(T0 + 5, "lat", 1.0), metric(T0 + 45, "lat", 1.0)])
    # watermark = 45 - 30 = 15: only [0, 10) may close.
    parts = agg.close_ready()
    assert [(p["window_start"], p["window_s"]) for p in parts] == [(T0, 10)]
    # Out of order but its window is still open: accepted.
    assert agg.add_batch([metric(T0 + 12, "lat", 2.0)]) == []
    late = metric(T0 + 3, "lat", 3.0)
    rejected = agg.add_batch([late])
    assert rejected == [("late", late)]
    assert agg.rejected == {"late": 1}
    agg.add_batch([metric(T0 + 95, "lat", 1.0)])
    parts = agg.close_ready()
    ten = by(parts, "metric", 10)
    assert [p["window_start"] for p in ten] == [T0 + 10, T0 + 40]
    assert ten[0]["count"] == 1 and ten[0]["sum"] == 2.0
    minute = by(parts, "metric", 60)
    assert [(p["window_start"], p["count"]) for p in minute] == [(T0, 3)]


def test_future_events_are_rejected_and_do_not_advance_the_watermark():
    clock = Clock(T0 + 100)
    agg = make(clock, future_tolerance_s=300)
    agg.add_batch([metric(T0 + 50, "lat", 1.0)])
    bad = metric(T0 + 100 + 301, "lat", 1.0)
    near_future = metric(T0 + 100 + 200, "lat", 1.0)
    assert agg.add_batch([bad, near_future]) == [("future", bad)]
    assert agg.rejected == {"future": 1}
    # The near-future event is aggregated but clamps to the wall clock: watermark = 100 - 30.
    assert agg.watermark() == T0 + 70
    assert [p["window_start"] for p in by(agg.close_ready(), "metric", 10)] == [T0 + 50]


def test_watermark_is_the_minimum_over_partitions_and_idle_partitions_release_it():
    clock = Clock(T0 + 100)
    agg = make(clock, allowed_lateness_s=10, idle_timeout_s=20)
    agg.add_batch([metric(T0 + 95, "lat", 1.0)], partition=0)
    agg.add_batch([metric(T0 + 40, "lat", 1.0)], partition=1)
    assert agg.watermark() == T0 + 30
    clock.now = T0 + 115  # partition 1 idle for 15 s < 20 s: still holds
    agg.add_batch([metric(T0 + 110, "lat", 1.0)], partition=0)
    assert agg.watermark() == T0 + 30
    clock.now = T0 + 121  # idle for 21 s: it advances to wall clock - lateness
    assert agg.watermark() == T0 + 100
    agg.add_batch([metric(T0 + 40, "lat", 1.0)], partition=1)
    assert agg.watermark() == T0 + 100  # never goes back


def test_revoked_partition_stops_holding_the_watermark():
    clock = Clock(T0 + 100)
    agg = make(clock, allowed_lateness_s=0)
    agg.add_batch([metric(T0 + 90, "lat", 1.0)], partition=0)
    agg.add_batch([metric(T0 + 20, "lat", 1.0)], partition=1)
    assert agg.watermark() == T0 + 20
    agg.remove_partition(1)
    assert agg.watermark() == T0 + 90


def test_counter_increase_handles_resets_out_of_order_and_first_sample():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60])
    samples = [(T0 + 1, 100.0), (T0 + 20, 130.0), (T0 + 15, 120.0),  # out of order: ignored for increase
               (T0 + 40, 5.0),  # reset: the counter restarted, increase 5
               (T0 + 70, 35.0)]
    agg.add_batch([metric(ts, "req_total", v, {"code": "200"}, mtype="counter") for ts, v in samples])
    parts = {p["window_start"]: p for p in by(agg.flush_all(), "metric")}
    first, second = parts[T0], parts[T0 + 60]
    assert first["increase"] == 30.0 + 5.0  # first sample only sets the baseline
    assert first["rate"] == pytest.approx(35.0 / 60)
    assert "sketch" not in first and first["count"] == 4
    assert second["increase"] == 30.0


def test_counter_baseline_survives_windows_and_batches():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[10])
    for i in range(6):
        agg.add_batch([metric(T0 + i * 10 + 1, "x_total", 10.0 * i, mtype="counter")])
    parts = sorted(by(agg.flush_all(), "metric"), key=lambda p: p["window_start"])
    assert [p["increase"] for p in parts] == [0.0, 10.0, 10.0, 10.0, 10.0, 10.0]


def test_cardinality_guard_sends_excess_series_to_one_overflow_series_and_logs_once(caplog):
    clock = Clock(T0 + 1000)
    agg = make(clock, max_series=3, window_sizes_s=[10, 60])
    events = [metric(T0 + 1, "lat", float(i), {"user": f"u{i % 5}"}) for i in range(10)]
    events += [metric(T0 + 12, "lat", 1.0, {"user": f"v{i}"}) for i in range(3)]
    with caplog.at_level(logging.WARNING):
        agg.add_batch(events)
        parts = agg.flush_all()
    first = by(parts, "metric", 10)
    first = [p for p in first if p["window_start"] == T0]
    labels = sorted(orjson.dumps(p["series"]["labels"]) for p in first)
    assert labels == [b'{"__overflow__":"true"}', b'{"user":"u0"}', b'{"user":"u1"}', b'{"user":"u2"}']
    overflow = next(p for p in first if "__overflow__" in p["series"]["labels"])
    assert overflow["count"] == 4 and overflow["sum"] == 3 + 4 + 8 + 9
    # The minute re-applies the guard to the series of the second 10 s window.
    minute = by(parts, "metric", 60)
    assert sum(p["count"] for p in minute) == 13
    assert len(minute) == 4
    assert agg.overflow_events["lat"] == 4 + 3
    warnings = [r for r in caplog.records if "lat" in r.getMessage()]
    assert len(warnings) == 1


def test_histogram_buckets_become_quantiles():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60])
    cumulative_before = {"0.1": 0, "0.5": 0, "1": 0, "+Inf": 0}
    cumulative_after = {"0.1": 10, "0.5": 60, "1": 90, "+Inf": 100}
    events = [metric(T0 + 1, "rpc_seconds_bucket", float(v), {"le": le, "svc": "a"}, mtype="histogram")
              for le, v in cumulative_before.items()]
    events += [metric(T0 + 31, "rpc_seconds_bucket", float(v), {"le": le, "svc": "a"}, mtype="histogram")
               for le, v in cumulative_after.items()]
    agg.add_batch(events)
    parts = agg.flush_all()
    (h,) = by(parts, "histogram")
    assert h["series"] == {"tenant": "t1", "service": "api", "name": "rpc_seconds", "labels": {"svc": "a"}}
    assert h["buckets"] == {"0.1": 10.0, "0.5": 60.0, "1": 90.0, "+Inf": 100.0}
    assert h["count"] == 100.0
    assert h["p50"] == pytest.approx(0.1 + 0.4 * (50 - 10) / 50)
    assert h["p99"] == 1.0  # rank in the +Inf bucket: the highest finite bound
    merged = merge_partials([h, h])
    assert merged[0]["buckets"]["0.5"] == 120.0 and merged[0]["p50"] == h["p50"]


def test_histogram_quantile_matches_prometheus_rules():
    buckets = [(1.0, 20.0), (2.0, 60.0), (4.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(1 + (50 - 20) / 40)
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.5)  # first bucket from 0
    assert histogram_quantile(1.0, buckets) == 4.0
    assert math.isnan(histogram_quantile(0.5, [(1.0, 5.0)]))  # no +Inf bucket
    assert math.isnan(histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
    # Non-monotonic counts are made monotonic, as Prometheus does.
    dip = [(1.0, 10.0), (2.0, 5.0), (4.0, 20.0), (math.inf, 20.0)]
    assert histogram_quantile(0.75, dip) == pytest.approx(2.0 + 2.0 * (15 - 10) / 10)


def test_log_counts_and_error_ratio():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60])
    events = [log(T0 + 1)] * 6 + [log(T0 + 2, "ERROR", 17)] * 3 + [log(T0 + 3, "FATAL", 21)]
    events += [log(T0 + 4, service="db")]
    agg.add_batch(events)
    parts = agg.flush_all()
    (api,) = by(parts, "log", service="api")
    assert api["count"] == 10 and api["errors"] == 4 and api["error_ratio"] == 0.4
    assert api["severity"] == {"INFO": [6, 0], "ERROR": [3, 3], "FATAL": [1, 1]}
    (db,) = by(parts, "log", service="db")
    assert db["count"] == 1 and db["error_ratio"] == 0.0


def test_security_counts_per_action_actor_and_source_ip():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60])
    agg.add_batch([security(T0 + 1, outcome="failure")] * 3 + [security(T0 + 2)]
                  + [security(T0 + 3, actor="bob", source_ip="")])
    parts = agg.flush_all()
    actions = {p["series"]["outcome"]: p["count"] for p in by(parts, "security")}
    assert actions == {"failure": 3, "success": 2}
    actors = {p["series"]["actor"]: (p["count"], p["failures"]) for p in by(parts, "security_actor")}
    assert actors == {"alice": (4, 3), "bob": (1, 0)}
    (ip,) = by(parts, "security_source_ip")
    assert (ip["series"]["source_ip"], ip["count"], ip["failures"], ip["failure_ratio"]) == ("10.0.0.1", 4, 3, 0.75)


def test_security_actor_cardinality_is_guarded():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60], max_series=2)
    agg.add_batch([security(T0 + 1, actor=f"user{i}", source_ip="") for i in range(5)])
    actors = {p["series"]["actor"]: p["count"] for p in by(agg.flush_all(), "security_actor")}
    assert actors == {"user0": 1, "user1": 1, "__overflow__": 3}
    assert agg.overflow_events == {"security.actor": 3}


def test_payments_from_log_attributes_and_payment_metrics():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60])
    attrs = {"payment.provider": "adyen", "merchant": "m1", "currency": "EUR", "amount": "10.50", "status": "captured"}
    events = [log(T0 + 1, attributes=attrs)] * 3
    events.append(log(T0 + 2, attributes={**attrs, "status": "Declined"}))
    events.append(log(T0 + 3, attributes={**attrs, "amount": "n/a"}))
    events.append(log(T0 + 4, attributes={"provider": "stripe", "payment.currency": "USD", "payment.amount": "5"}))
    events.append(log(T0 + 5, attributes={"route": "/x"}))  # not a payment
    events.append(metric(T0 + 6, "payment_amount", 7.0,
                         {"provider": "adyen", "merchant": "m1", "currency": "EUR", "status": "failed"}))
    agg.add_batch(events)
    parts = agg.flush_all()
    pays = {(p["series"]["provider"], p["series"]["merchant"], p["series"]["currency"]): p for p in by(parts, "payment")}
    assert set(pays) == {("adyen", "m1", "EUR"), ("stripe", "", "USD")}
    adyen = pays[("adyen", "m1", "EUR")]
    assert (adyen["count"], adyen["failures"], adyen["amount_count"]) == (6, 2, 5)
    assert adyen["amount_sum"] == pytest.approx(4 * 10.5 + 7.0)
    assert adyen["failure_ratio"] == pytest.approx(2 / 6)
    assert pays[("stripe", "", "USD")]["amount_sum"] == 5.0


def test_invalid_events_are_returned_not_raised():
    clock = Clock(T0 + 1000)
    agg = make(clock)
    broken = [
        {"kind": "metric", "ts": T0},  # missing fields
        metric(T0, "lat", math.nan),
        metric(T0, "lat", math.inf),
        {**metric(T0, "lat", 1.0), "value": "x"},
        {**log(T0), "kind": "trace"},
        {**log(T0), "ts": math.nan},
        {**log(T0), "ts": None},
    ]
    rejected = agg.add_batch(broken + [log(T0)])
    assert [reason for reason, _ in rejected] == ["invalid"] * len(broken)
    assert [ev for _, ev in rejected] == broken
    assert agg.rejected == {"invalid": len(broken)}
    assert agg.events_aggregated == 1
    parts = agg.flush_all()
    assert sum(p["count"] for p in by(parts, "log", 10)) == 1
    assert by(parts, "metric") == []


def test_negative_and_zero_values_keep_exact_stats_and_sketch():
    clock = Clock(T0 + 1000)
    agg = make(clock, window_sizes_s=[60])
    values = [-5.0, 0.0, 3.0, -0.5, 0.0, 2.0]
    agg.add_batch([metric(T0 + i, "delta", v) for i, v in enumerate(values)])
    (p,) = by(agg.flush_all(), "metric")
    sketch = DDSketch.from_dict(p["sketch"])
    expected = DDSketch()
    expected.update(values)
    assert sketch == expected
    assert (p["min"], p["max"], p["sum"], p["last"]) == (-5.0, 3.0, -0.5, 2.0)


def test_flush_all_emits_open_windows_and_later_partials_merge():
    clock = Clock(T0 + 5)
    agg = make(clock)
    agg.add_batch([log(T0 + 1), log(T0 + 2)])
    first = agg.flush_all()
    assert agg.open_windows == 0
    agg.add_batch([log(T0 + 3)])
    second = agg.flush_all()
    merged = merge_partials(first + second)
    assert sorted((p["window_s"], p["count"]) for p in merged) == [(10, 3), (60, 3)]


def test_config_rejects_sizes_that_are_not_multiples_of_the_smallest():
    with pytest.raises(ValidationError, match="multiples"):
        WindowConfig(window_sizes_s=[10, 25])
    with pytest.raises(ValidationError):
        WindowConfig(unknown=1)
    assert WindowConfig(window_sizes_s=[60, 10, 60]).window_sizes_s == [10, 60]


def test_counter_baseline_is_forgotten_after_the_ttl():
    clock = Clock(T0 + 100)
    agg = make(clock, window_sizes_s=[60], counter_ttl_s=600, allowed_lateness_s=0)
    agg.add_batch([metric(T0 + 1, "x_total", 100.0, mtype="counter")])
    clock.now = T0 + 2000
    agg.add_batch([metric(T0 + 1900, "other", 1.0)])
    agg.close_ready()  # watermark T0 + 1900: the counter was last seen more than 600 s before
    agg.add_batch([metric(T0 + 1930, "x_total", 150.0, mtype="counter")])
    (p,) = [p for p in agg.flush_all() if p["series"]["name"] == "x_total"]
    assert p["increase"] == 0.0  # a fresh baseline, not 50 over a 30-minute gap
