"""Quantiles from Prometheus-style cumulative histogram buckets.

Prometheus histograms arrive as counter samples `<base>_bucket{le="..."}` (plus
`<base>_sum` / `<base>_count`). The aggregator turns each bucket series into a
per-window increase, exactly like any counter; this module groups the bucket
series of one base series into a `histogram` partial whose `buckets` map is
{le: increase in the window}. Increases of cumulative buckets are themselves
cumulative in `le`, so quantiles follow Prometheus `histogram_quantile`: find the
bucket holding rank q * total and interpolate linearly inside it. Bucket sums
merge exactly; quantiles are recomputed after every merge.
"""

from __future__ import annotations

import math

import orjson

QUANTILES = (0.5, 0.9, 0.95, 0.99)
QUANTILE_FIELDS = ("p50", "p90", "p95", "p99")


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus `histogram_quantile` over (upper bound `le`, cumulative count) pairs.

    Returns NaN when there is no +Inf bucket or no observation, like Prometheus.
    The first bucket's lower bound is 0 (unless its upper bound is <= 0); a rank
    that falls in the +Inf bucket returns the highest finite upper bound.
    """
    if not buckets or q != q:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets)
    if ordered[-1][0] != math.inf:
        return math.nan
    # Counts from separate scrapes can be slightly non-monotonic; Prometheus fixes that the same way.
    bounds: list[float] = []
    counts: list[float] = []
    running = 0.0
    for le, count in ordered:
        running = max(running, count)
        bounds.append(le)
        counts.append(running)
    total = counts[-1]
    if total <= 0 or len(bounds) < 2:
        return math.nan
    rank = q * total
    i = next(i for i, c in enumerate(counts) if c >= rank)
    if i == len(bounds) - 1:
        return bounds[-2]
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    lower = 0.0 if i == 0 else bounds[i - 1]
    below = 0.0 if i == 0 else counts[i - 1]
    in_bucket = counts[i] - below
    if in_bucket <= 0:
        return bounds[i]
    return lower + (bounds[i] - lower) * (rank - below) / in_bucket


def _le(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def finish_histogram(partial: dict) -> dict:
    """(Re)compute count and quantile fields of a histogram partial from its buckets."""
    pairs = [(_le(le), inc) for le, inc in partial["buckets"].items()]
    pairs = [(le, inc) for le, inc in pairs if le == le]
    total = max((inc for le, inc in pairs if le == math.inf), default=0.0)
    partial["count"] = total
    for q, field in zip(QUANTILES, QUANTILE_FIELDS, strict=True):
        value = histogram_quantile(q, pairs)
        partial[field] = None if value != value or total <= 0 else value
    return partial


def histogram_partial(ws: float, size: int, tenant: str, service: str, base: str, base_labels: dict) -> dict:
    """An empty histogram partial for one base series; fill `buckets`, then finish_histogram()."""
    return {
        "v": 1,
        "family": "histogram",
        "window_start": ws,
        "window_s": size,
        "key": orjson.dumps(["histogram", tenant, service, base, base_labels], option=orjson.OPT_SORT_KEYS).decode(),
        "series": {"tenant": tenant, "service": service, "name": base, "labels": base_labels},
        "buckets": {},
    }


def bucket_series(name: str, labels: dict) -> tuple[str, dict, str] | None:
    """(base name, labels without le, le) if this is a `<base>_bucket{le=...}` series, else None."""
    if not name.endswith("_bucket") or "le" not in labels:
        return None
    return name[: -len("_bucket")], {k: v for k, v in labels.items() if k != "le"}, labels["le"]
