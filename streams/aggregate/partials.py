"""Partial rollup records: built from window state, merged exactly downstream.

A partial is a plain JSON-serializable dict (orjson.dumps works as is):

    {"v": 1, "family": "metric" | "histogram" | "log" | "security"
                       | "security_actor" | "security_source_ip" | "payment",
     "window_start": float epoch s, "window_s": int,
     "key": str,        # stable series key: Kafka message key, merge identity
     "series": {...},   # the dimensions, see SERIES below
     ...family fields}

Family fields:
- metric: type, unit, count, sum, min, max, last, last_ts (last = value at the
  highest ts, ties to the larger value); gauges/summaries/histogram observations
  carry `sketch` (DDSketch.to_dict(): {"a": alpha, "m": max_buckets,
  "p": [indices, counts], "n": [indices, counts], "z": zeros}); counter-like series carry `increase`
  (sum of per-sample increases, resets handled) and `rate` = increase / window_s
  instead of a sketch.
- histogram: buckets {le: increase}, count, p50, p90, p95, p99 (see histogram.py).
- log: count, errors (severity_number >= 17), error_ratio,
  severity {severity_text: [count, errors]}.
- security: count.
- security_actor / security_source_ip: count, failures (outcome == "failure"), failure_ratio.
- payment: count, failures, failure_ratio, amount_sum, amount_count (payments
  whose amount parsed as a number).

Partials of the same (family, key, window_start, window_s), from any number of
workers or batches, merge exactly with `merge_partials`: counts and sketch
buckets are identical to one pass over the union; sums agree up to float
rounding order.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from streams.aggregate.histogram import bucket_series, finish_histogram, histogram_partial
from streams.aggregate.sketch import DDSketch, stores_to_dict
from streams.aggregate.state import (
    M_COUNT,
    M_COUNTER,
    M_INC,
    M_LAST,
    M_LAST_TS,
    M_MAX,
    M_MIN,
    M_NEG,
    M_POS,
    M_SUM,
    M_TYPE,
    M_UNIT,
    M_ZERO,
)

SERIES = {
    "metric": ("tenant", "service", "name", "labels"),
    "log": ("tenant", "service"),
    "security": ("tenant", "category", "action", "outcome"),
    "security_actor": ("tenant", "actor"),
    "security_source_ip": ("tenant", "source_ip"),
    "payment": ("tenant", "provider", "merchant", "currency"),
}

_SUMMED = {
    "metric": ("count", "sum", "increase"),
    "histogram": (),
    "log": ("count", "errors"),
    "security": ("count",),
    "security_actor": ("count", "failures"),
    "security_source_ip": ("count", "failures"),
    "payment": ("count", "failures", "amount_sum", "amount_count"),
}

_dumps = orjson.dumps
_SORT = orjson.OPT_SORT_KEYS


def series_key(family: str, dims: Iterable) -> str:
    return _dumps([family, *dims], option=_SORT).decode()


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


class PartialBuilder:
    """Turns closed window state into partial dicts.

    The series key string and `series` dict of a series are built once and reused
    for every window it appears in (treat them as read-only): with scraped metrics a
    series has about one sample per window, so per-partial work must stay small.
    """

    CACHE_LIMIT = 200_000

    def __init__(self, alpha: float, max_buckets: int) -> None:
        self.alpha = alpha
        self.max_buckets = max_buckets
        self._cache: dict[str, dict[tuple, tuple[str, dict]]] = {family: {} for family in SERIES}
        # metric series key -> (histogram group, base name, base labels, le) or None
        self._buckets: dict[tuple, tuple | None] = {}

    def _series(self, family: str, key: tuple) -> tuple[str, dict]:
        cache = self._cache[family]
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= self.CACHE_LIMIT:
                cache.clear()
                self._buckets.clear()
            dims = key if family != "metric" else (*key[:3], orjson.loads(key[3]))
            hit = cache[key] = (series_key(family, dims), dict(zip(SERIES[family], dims, strict=True)))
        return hit

    def window(self, win, ws: float, size: int) -> list[dict]:
        """Every partial of one closed window (a windows._Window)."""
        series = self._series
        alpha, max_buckets = self.alpha, self.max_buckets
        out = []
        histograms: dict[tuple, dict] = {}
        bucket_info = self._buckets
        for k, acc in win.metrics.items():
            if not acc[M_COUNT]:
                continue
            key, dims = series("metric", k)
            p = {"v": 1, "family": "metric", "window_start": ws, "window_s": size, "key": key, "series": dims,
                 "type": acc[M_TYPE], "unit": acc[M_UNIT], "count": acc[M_COUNT], "sum": acc[M_SUM],
                 "min": acc[M_MIN], "max": acc[M_MAX], "last": acc[M_LAST], "last_ts": acc[M_LAST_TS]}
            if acc[M_COUNTER]:
                p["increase"] = acc[M_INC]
                p["rate"] = acc[M_INC] / size
                info = bucket_info.get(k, False)
                if info is False:
                    b = bucket_series(k[2], dims["labels"])
                    info = bucket_info[k] = None if b is None else ((k[0], k[1], b[0], _dumps(b[1], option=_SORT)), *b)
                if info is not None:
                    h = histograms.get(info[0])
                    if h is None:
                        h = histograms[info[0]] = histogram_partial(ws, size, k[0], k[1], info[1], info[2])
                    h["buckets"][info[3]] = h["buckets"].get(info[3], 0.0) + acc[M_INC]
            else:
                p["sketch"] = stores_to_dict(acc[M_POS], acc[M_NEG], acc[M_ZERO], alpha, max_buckets)
            out.append(p)
        out.extend(finish_histogram(h) for h in histograms.values())
        by_service: dict[tuple, dict] = {}
        for (tenant, service, severity), (count, errors) in win.logs.items():
            p = by_service.get((tenant, service))
            if p is None:
                key, dims = series("log", (tenant, service))
                p = by_service[(tenant, service)] = {
                    "v": 1, "family": "log", "window_start": ws, "window_s": size, "key": key, "series": dims,
                    "count": 0, "errors": 0, "severity": {}}
            p["count"] += count
            p["errors"] += errors
            p["severity"][severity] = [count, errors]
        for p in by_service.values():
            p["error_ratio"] = _ratio(p["errors"], p["count"])
        out.extend(by_service.values())
        for k, (count,) in win.security.items():
            key, dims = series("security", k)
            out.append({"v": 1, "family": "security", "window_start": ws, "window_s": size, "key": key,
                        "series": dims, "count": count})
        for family, store in (("security_actor", win.actors), ("security_source_ip", win.ips)):
            for k, (count, failures) in store.items():
                key, dims = series(family, k)
                out.append({"v": 1, "family": family, "window_start": ws, "window_s": size, "key": key,
                            "series": dims, "count": count, "failures": failures,
                            "failure_ratio": _ratio(failures, count)})
        for k, (count, failures, amount_sum, amount_count) in win.payments.items():
            key, dims = series("payment", k)
            out.append({"v": 1, "family": "payment", "window_start": ws, "window_s": size, "key": key,
                        "series": dims, "count": count, "failures": failures, "failure_ratio": _ratio(failures, count),
                        "amount_sum": amount_sum, "amount_count": amount_count})
        return out


def _finish(p: dict) -> None:
    family = p["family"]
    if family == "metric":
        if "increase" in p:
            p["rate"] = p["increase"] / p["window_s"]
    elif family == "log":
        p["error_ratio"] = _ratio(p["errors"], p["count"])
    elif family == "histogram":
        finish_histogram(p)
    elif "failures" in p:
        p["failure_ratio"] = _ratio(p["failures"], p["count"])


def _merge_into(into: dict, other: dict) -> None:
    for field in _SUMMED[into["family"]]:
        if field in other:
            into[field] = into.get(field, 0) + other[field]
    family = into["family"]
    if family == "metric":
        into["min"] = min(into["min"], other["min"])
        into["max"] = max(into["max"], other["max"])
        if (other["last_ts"], other["last"]) > (into["last_ts"], into["last"]):
            into["last_ts"], into["last"] = other["last_ts"], other["last"]
        if "sketch" in other:
            if "sketch" in into:
                sketch = DDSketch.from_dict(into["sketch"])
                sketch.merge(DDSketch.from_dict(other["sketch"]))
                into["sketch"] = sketch.to_dict()
            else:
                into["sketch"] = other["sketch"]
    elif family == "log":
        sev = into["severity"]
        for text, (count, errors) in other["severity"].items():
            c, e = sev.get(text, (0, 0))
            sev[text] = [c + count, e + errors]
    elif family == "histogram":
        buckets = into["buckets"]
        for le, inc in other["buckets"].items():
            buckets[le] = buckets.get(le, 0.0) + inc


def _copy(p: dict) -> dict:
    out = dict(p)
    for field in ("severity", "buckets"):
        if field in out:
            out[field] = dict(out[field])
    return out


def merge_partials(partials: Iterable[dict]) -> list[dict]:
    """Merge partials of the same (family, key, window_start, window_s); inputs are not modified.

    Output order follows the first appearance of each group.
    """
    merged: dict[tuple, dict] = {}
    for p in partials:
        group = (p["family"], p["key"], p["window_start"], p["window_s"])
        into = merged.get(group)
        if into is None:
            merged[group] = _copy(p)
        else:
            _merge_into(into, p)
    out = list(merged.values())
    for p in out:
        _finish(p)
    return out
