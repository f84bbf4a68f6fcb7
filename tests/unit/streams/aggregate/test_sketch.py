import math
import random

import orjson
import pytest

from streams.aggregate.sketch import ZERO_THRESHOLD, DDSketch


def exact_quantile(values: list[float], q: float) -> float:
    """k-th smallest with k = max(1, ceil(q * n)): the rank the sketch (and ClickHouse) use."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def within(estimate: float, exact: float, alpha: float) -> bool:
    return abs(estimate - exact) <= alpha * abs(exact) * (1 + 1e-9) + ZERO_THRESHOLD


@pytest.mark.parametrize("alpha", [0.01, 0.05])
@pytest.mark.parametrize("dist", ["lognormal", "uniform", "mixed_sign", "with_zeros"])
def test_quantiles_within_relative_error(alpha, dist):
    rnd = random.Random(f"{alpha}-{dist}")
    gen = {
        "lognormal": lambda: rnd.lognormvariate(0, 2),
        "uniform": lambda: rnd.uniform(0.001, 1000),
        "mixed_sign": lambda: rnd.gauss(0, 100),
        "with_zeros": lambda: 0.0 if rnd.random() < 0.3 else rnd.expovariate(0.1),
    }[dist]
    values = [gen() for _ in range(20_000)]
    sketch = DDSketch(alpha)
    sketch.update(values)
    assert sketch.count == len(values)
    for q in (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
        est = sketch.quantile(q)
        exact = exact_quantile(values, q)
        assert within(est, exact, alpha), (q, est, exact)


def test_bucket_representative_is_within_alpha_at_both_bucket_edges():
    sketch = DDSketch(0.01)
    gamma = 1.01 / 0.99
    for index in (-50, 0, 1, 300):
        rep = sketch.value_of(index)
        upper = gamma**index
        lower = gamma ** (index - 1)
        assert abs(rep - upper) <= 0.01 * upper * (1 + 1e-12)
        assert abs(rep - lower) <= 0.01 * lower * (1 + 1e-12)


def test_merge_is_exact_union():
    rnd = random.Random(3)
    values = [rnd.choice([-1, 1]) * rnd.lognormvariate(0, 3) for _ in range(5000)] + [0.0] * 17
    whole = DDSketch()
    whole.update(values)
    parts = [DDSketch() for _ in range(4)]
    for v in values:
        rnd.choice(parts).add(v)
    merged = DDSketch()
    for p in parts:
        merged.merge(p)
    assert merged == whole
    assert merged.zero == 17


def test_collapse_bounds_buckets_and_merge_stays_exact():
    rnd = random.Random(5)
    values = [10 ** rnd.uniform(-6, 6) for _ in range(4000)]
    whole = DDSketch(0.01, max_buckets=64)
    whole.update(values)
    assert len(whole.pos) == 64
    parts = [DDSketch(0.01, max_buckets=64) for _ in range(3)]
    for i, v in enumerate(values):
        parts[i % 3].add(v)
    merged = DDSketch(0.01, max_buckets=64)
    for p in parts:
        merged.merge(p)
    assert merged.pos == whole.pos
    assert merged.count == len(values)
    # Collapsing folds the lowest buckets: high quantiles keep the guarantee.
    assert within(whole.quantile(0.999), exact_quantile(values, 0.999), 0.01)
    assert whole.quantile(0.0) > min(values)


def test_serialization_round_trip_through_json():
    sketch = DDSketch(0.02, max_buckets=100)
    sketch.update([-3.5, -0.2, 0.0, 0.0, 1e-12, 1.0, 2.0, 2.0, 1e9])
    data = orjson.loads(orjson.dumps(sketch.to_dict()))
    back = DDSketch.from_dict(data)
    assert back == sketch
    assert back.zero == 3  # 1e-12 is below the zero threshold
    assert data["a"] == 0.02 and data["m"] == 100


def test_buckets_are_sorted_weighted_points_matching_quantile():
    sketch = DDSketch()
    sketch.update([-5.0, -1.0, 0.0, 2.0, 2.0, 30.0])
    values, counts = sketch.buckets()
    assert values == sorted(values)
    assert sum(counts) == 6
    assert sketch.quantile(0.5) == values[next(i for i, c in enumerate(_cumulative(counts)) if c >= 3)]


def _cumulative(counts):
    total = 0
    for c in counts:
        total += c
        yield total


def test_empty_and_invalid_inputs():
    sketch = DDSketch()
    assert sketch.quantile(0.5) is None
    with pytest.raises(ValueError):
        sketch.add(math.nan)
    with pytest.raises(ValueError):
        sketch.quantile(1.5)
    with pytest.raises(ValueError):
        DDSketch(alpha=1.0)
    with pytest.raises(ValueError, match="different parameters"):
        sketch.merge(DDSketch(alpha=0.05))
