"""Pure helpers of the harness (no I/O, no clock): percentiles, RSS slopes, the
targets and their evaluation. Unit-tested in tests/unit/benchmarks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

# Process names whose memory is not the pipeline's: the embedded Tansu broker keeps
# every record in memory by design (memory:// storage), so its RSS grows with the
# data volume of the run and is reported but not held to the RSS target.
RSS_EXEMPT = ("broker",)
RSS_LIMIT_MB = 500.0
FLAT_MB_PER_MIN = 1.0

TARGETS: dict[str, dict] = {
    "e2e_events_per_s": {"op": ">=", "value": 100_000, "unit": "events/s"},
    "e2e_vs_faust": {"op": ">=", "value": 10, "unit": "x"},
    "ingest_vs_floor": {"op": ">=", "value": 0.35, "unit": "x"},
    "freshness_p99_s": {"op": "<=", "value": 1.0, "unit": "s"},
    "alert_latency_p99_s": {"op": "<=", "value": 2.0, "unit": "s"},
    # The window is only known at run time: the limit is alert_window_s + 5.
    "alert_latency_windowed_p99_s": {"op": "<=", "value": "alert_window_s + 5", "unit": "s"},
    "rss_mb_max": {"op": "<=", "value": RSS_LIMIT_MB, "unit": "MB",
                   "note": "peak RSS of every Sluice process and of the harness; the in-memory broker is exempt"},
}


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default). None for no values."""
    data = sorted(float(v) for v in values)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0..100")
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def slope_per_min(samples: Sequence[tuple[float, float]], last_s: float | None = None) -> float | None:
    """Least-squares slope of (t seconds, value) samples, in value units per minute,
    over the samples of the last `last_s` seconds (all when None). None below 3 samples."""
    pts = list(samples)
    if last_s is not None and pts:
        t_end = max(t for t, _ in pts)
        pts = [(t, v) for t, v in pts if t >= t_end - last_s]
    if len(pts) < 3:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    if var == 0:
        return None
    cov = sum((t - mt) * (v - mv) for t, v in pts)
    return cov / var * 60.0


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def rate(count: float, seconds: float) -> float | None:
    return count / seconds if seconds > 0 else None


def max_rss(rss_mb: Mapping[str, float], exempt: Sequence[str] = RSS_EXEMPT) -> float | None:
    vals = [v for k, v in rss_mb.items() if not any(k == e or k.startswith(e + ".") for e in exempt)]
    return max(vals) if vals else None


def _compare(value: float | None, op: str, limit: float | None) -> bool | None:
    if value is None or limit is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value >= limit if op == ">=" else value <= limit


def evaluate(results: Mapping) -> dict[str, bool | None]:
    """Per target: True/False, or None when the figure was not measured."""
    met: dict[str, bool | None] = {}
    for key, t in TARGETS.items():
        limit = t["value"]
        if key == "alert_latency_windowed_p99_s":
            window = results.get("alert_window_s")
            limit = None if window is None else float(window) + 5.0
        if key == "rss_mb_max":
            value = max_rss(results.get("rss_mb") or {})
        else:
            value = results.get(key)
        met[key] = _compare(value, t["op"], limit)
    if results.get("freshness_markers_unseen"):
        met["freshness_p99_s"] = False
    if results.get("alert_unfired"):
        met["alert_latency_p99_s"] = False
    if results.get("alert_unfired_windowed"):
        met["alert_latency_windowed_p99_s"] = False
    if results.get("e2e_missing") or results.get("e2e_duplicates"):
        met["e2e_events_per_s"] = False
    return met


def memory_flat(series: Mapping[str, Sequence[tuple[float, float]]], last_s: float = 240.0,
                limit_mb_per_min: float = FLAT_MB_PER_MIN,
                exempt: Sequence[str] = RSS_EXEMPT) -> dict[str, dict]:
    """Per process: RSS slope over the last `last_s` seconds and whether it is flat.
    Exempt processes are reported with flat=None."""
    out = {}
    for name, pts in series.items():
        s = slope_per_min(pts, last_s)
        exempted = any(name == e or name.startswith(e + ".") for e in exempt)
        out[name] = {"slope_mb_per_min": None if s is None else round(s, 3),
                     "flat": None if exempted or s is None else s < limit_mb_per_min}
    return out


def fmt_num(v, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        if digits == 0:
            return f"{v:,.0f}"
        return f"{v:,.{digits}f}"
    return str(v)
