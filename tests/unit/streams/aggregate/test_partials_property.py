"""Partial aggregation split across workers, then merged, equals one pass over the stream."""

import math
from collections import defaultdict

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.aggregate import WindowAggregator, WindowConfig, merge_partials
from streams.aggregate.sketch import ZERO_THRESHOLD, DDSketch
from tests.unit.streams.aggregate.events import log, metric, security

T0 = 1_800_000_000.0
ALPHA = 0.01
QUANTILES = (0.0, 0.5, 0.9, 0.99, 1.0)

values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-3, max_value=1e3),
    st.sampled_from([0.0, 1.0, 1e-12]),
)
event_specs = st.tuples(
    st.sampled_from(["gauge", "counter", "log", "payment", "security"]),
    st.floats(min_value=0, max_value=129.999),  # event time offset: few windows, many collisions
    st.integers(min_value=0, max_value=2),      # series
    values,
    st.booleans(),                              # error / failure
)


def build(spec) -> dict:
    kind, offset, series, value, bad = spec
    ts = T0 + offset
    if kind == "gauge":
        return metric(ts, "lat", value, {"s": str(series)})
    if kind == "counter":
        return metric(ts, "req_total", abs(value), {"s": str(series)}, mtype="counter")
    if kind == "log":
        return log(ts, "ERROR" if bad else "INFO", 17 if bad else 9, service=f"svc{series}")
    if kind == "payment":
        return log(ts, attributes={"provider": "adyen", "merchant": f"m{series}", "currency": "EUR",
                                   "amount": repr(value), "status": "declined" if bad else "captured"})
    return security(ts, actor=f"u{series}", outcome="failure" if bad else "success")


def run(events: list[dict], batch_size: int) -> list[dict]:
    agg = WindowAggregator(WindowConfig(window_sizes_s=[10, 60]), clock=lambda: T0 + 1000)
    for i in range(0, len(events), batch_size):
        assert agg.add_batch(events[i:i + batch_size]) == []
    return agg.flush_all()


def grouped(partials: list[dict]) -> dict[tuple, dict]:
    return {(p["family"], p["key"], p["window_start"], p["window_s"]): p for p in merge_partials(partials)}


def assert_same(a: dict, b: dict) -> None:
    for field, va in a.items():
        vb = b[field]
        if field == "sketch":
            assert DDSketch.from_dict(va) == DDSketch.from_dict(vb)
        elif field in ("sum", "amount_sum", "increase", "rate"):
            assert math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-6), field
        else:
            assert va == vb, field


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(event_specs, min_size=1, max_size=300),
    workers=st.integers(min_value=1, max_value=4),
    assignment=st.lists(st.integers(min_value=0, max_value=3), min_size=300, max_size=300),
    batch_size=st.integers(min_value=1, max_value=64),
)
def test_split_then_merged_equals_single_pass(specs, workers, assignment, batch_size):
    events = [build(s) for s in specs]
    shares: list[list[dict]] = [[] for _ in range(workers)]
    for i, ev in enumerate(events):
        if ev["kind"] == "metric" and ev["type"] == "counter":
            # Counter series are partitioned by series (the raw topic is keyed by series).
            w = int(ev["labels"]["s"]) % workers
        else:
            w = assignment[i] % workers
        shares[w].append(ev)
    split = []
    for share in shares:
        # Partials travel through Kafka as JSON.
        split.extend(orjson.loads(orjson.dumps(p)) for p in run(share, batch_size))
    single = grouped(run(events, len(events)))
    merged = grouped(split)
    assert merged.keys() == single.keys()
    for key, p in single.items():
        assert_same(p, merged[key])

    # Percentiles of the merged sketches stay within alpha of the exact quantiles.
    raw: dict[tuple, list[float]] = defaultdict(list)
    for ev in events:
        if ev["kind"] == "metric" and ev["type"] == "gauge":
            for size in (10, 60):
                raw[(ev["labels"]["s"], ev["ts"] - ev["ts"] % size, size)].append(ev["value"])
    checked = 0
    for (family, _, ws, size), p in merged.items():
        if family != "metric" or p["type"] != "gauge":
            continue
        ordered = sorted(raw[(p["series"]["labels"]["s"], ws, size)])
        assert len(ordered) == p["count"]
        sketch = DDSketch.from_dict(p["sketch"])
        for q in QUANTILES:
            exact = ordered[max(1, math.ceil(q * len(ordered))) - 1]
            assert abs(sketch.quantile(q) - exact) <= ALPHA * abs(exact) * (1 + 1e-9) + ZERO_THRESHOLD
        checked += 1
    assert checked == len(raw)


@settings(max_examples=40, deadline=None)
@given(
    specs=st.lists(event_specs, min_size=1, max_size=200),
    closes=st.lists(st.tuples(st.integers(min_value=1, max_value=50), st.floats(min_value=0, max_value=400)),
                    min_size=1, max_size=10),
)
def test_every_event_is_aggregated_or_returned(specs, closes):
    """With windows closing mid-stream, aggregated + returned events account for the whole input."""
    events = [build(s) for s in specs]
    now = [T0]
    agg = WindowAggregator(WindowConfig(window_sizes_s=[10, 60], allowed_lateness_s=5), clock=lambda: now[0])
    partials, returned, i = [], [], 0
    for size, advance in closes * 20:
        if i >= len(events):
            break
        now[0] = T0 + advance
        returned += agg.add_batch(events[i:i + size])
        partials += agg.close_ready()
        i += size
    returned += agg.add_batch(events[i:])
    partials += agg.flush_all()
    counted = 0
    for p in merge_partials(partials):
        if p["window_s"] != 10:
            continue
        if p["family"] == "metric" or p["family"] == "log":
            counted += p["count"]
        elif p["family"] == "security":
            counted += p["count"]
    assert counted + len(returned) == len(events)
    assert sum(agg.rejected.values()) == len(returned)
    assert {reason for reason, _ in returned} <= {"late", "future"}
