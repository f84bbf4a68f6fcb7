"""Event-time tumbling windows over canonical event dicts: the ingest hot path.

Use: `add_batch(events, partition)` per consumed batch; `close_ready()` after it
(returns the partials of closed windows, see partials.py); `remove_partition(p)`
on revocation; `flush_all()` at shutdown. Wall time comes from the `clock`
given to the constructor (time.time by default).

Series keys (one accumulator per key per window):
- metric: (tenant, service, name, labels as sorted-key JSON). Counter-like
  samples (type counter; type histogram/summary named *_bucket/_sum/_count)
  become increases: per real series the previous (ts, value) is kept across
  windows; value < previous is a reset (increase = value); a sample not newer
  than the previous one adds no increase; the first sample of a series only
  sets the baseline. Every sample feeds count/sum/min/max/last; samples of
  other series also feed a DDSketch (percentiles). Rates are right only when all samples of a counter series reach the same
  worker, i.e. the raw metric topic is keyed by series.
- metric name `payment_amount` (configurable) also counts as a payment whose
  amount is the value, dimensions from labels provider/merchant/currency/status.
- log: (tenant, service, severity_text) -> [count, errors]; errors are
  severity_number >= 17 (ERROR and above). Partials group them per (tenant, service).
- security: (tenant, category, action, outcome) -> count; (tenant, actor) and
  (tenant, source_ip) -> [count, failures], skipped when actor / source_ip is empty.
- payment (log events): (tenant, provider, merchant, currency) ->
  [count, failures, amount_sum, amount_count]. A log is a payment when its
  attributes carry `payment.provider` or `provider`; the other dimensions come
  from the first non-empty of PAYMENT_KEYS below. Missing merchant/currency read
  as "". A status/outcome in FAILED_STATUSES (case-insensitive) is a failure.

Cardinality guard: per window, at most `max_series` distinct series per metric
name, and per group for security (category/action), actors, source IPs and
payment merchants. Further series land in an overflow series: metric labels
become {"__overflow__": "true"} (tenant, service, name kept); otherwise the
high-cardinality dimensions read "__overflow__" (security category and action,
the actor, the source IP, the payment merchant). `overflow_events[group]` counts the events diverted and the first
overflow of a group logs one warning. Log series are not guarded: tenant x
service x severity is bounded by the fleet.

Windows: only the smallest size is aggregated per event; larger sizes (each a
multiple of it) are built by merging closed base windows, which is exact.

Watermark: per source partition, max accepted event ts (clamped to the wall
clock, so a host clock running ahead cannot pull windows shut early) minus the
allowed lateness. A partition without accepted events for `idle_timeout_s` of
wall time advances to wall clock minus lateness, so an idle partition does not
hold windows open forever. The global watermark is the minimum over partitions
and never goes back. `close_ready` emits every window whose end <= watermark.

Nothing is dropped silently: `add_batch` returns the events it did not
aggregate as (reason, event), counted in `rejected`:
- "late": the event's window was already closed;
- "future": ts more than `future_tolerance_s` ahead of the wall clock. Such an
  event is not aggregated (it would hold a window open until the wall clock
  catches up, and its time is wrong anyway); the caller routes it with the late ones;
- "invalid": missing/ill-typed fields or a non-finite metric value.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

from orjson import OPT_SORT_KEYS, dumps
from pydantic import BaseModel, ConfigDict, Field, field_validator

from streams.aggregate.partials import PartialBuilder
from streams.aggregate.sketch import ZERO_THRESHOLD, collapse_lowest, index_multiplier
from streams.aggregate.state import (
    M_COUNTER,
    M_PAYMENT,
    OVERFLOW,
    OVERFLOW_LABELS,
    Window,
    apply_metric,
    empty_metric,
    fold,
)

log = logging.getLogger(__name__)

PAYMENT_KEYS = {
    "provider": ("payment.provider", "provider"),
    "merchant": ("payment.merchant", "merchant", "payment.merchant_id", "merchant_id"),
    "currency": ("payment.currency", "currency"),
    "amount": ("payment.amount", "amount"),
    "status": ("payment.status", "status", "payment.outcome", "outcome"),
}
FAILED_STATUSES = frozenset({
    "failed", "failure", "fail", "declined", "rejected", "error", "errored", "timeout", "timed_out", "denied",
})
COUNTER_SUFFIXES = ("_bucket", "_sum", "_count")

_log = math.log
_ceil = math.ceil
_NEG_INF = -math.inf


class WindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One size by default: every size closes its own partials for every series, and the
    # rollup tables and rules read the minute. Sub-minute sizes are for readers of the
    # rollups topic and for rules on shorter windows (detect.rollup_window_s).
    window_sizes_s: list[int] = Field(default=[60], description="tumbling window sizes, s; each a multiple of the smallest")
    allowed_lateness_s: float = Field(default=30.0, ge=0, description="watermark lag behind the newest event time per partition")
    idle_timeout_s: float = Field(default=30.0, gt=0, description="wall time without accepted events after which a partition stops holding the watermark")
    future_tolerance_s: float = Field(default=300.0, ge=0, description="events further ahead of the wall clock are rejected as 'future'")
    max_series: int = Field(default=1000, ge=1, description="series per metric name (and per security/payment group) per window before overflow")
    counter_ttl_s: float = Field(default=3600.0, gt=0, description="event time after which an unseen counter series forgets its previous value")
    sketch_alpha: float = Field(default=0.01, gt=0, lt=1, description="DDSketch relative accuracy")
    sketch_max_buckets: int = Field(default=2048, ge=16, description="DDSketch buckets per sign before the lowest collapse")
    payment_metric_names: list[str] = Field(default=["payment_amount"], description="metric names that also count as payments")

    @field_validator("window_sizes_s")
    @classmethod
    def _sizes(cls, sizes: list[int]) -> list[int]:
        sizes = sorted(set(sizes))
        if not sizes or sizes[0] <= 0:
            raise ValueError("window_sizes_s needs at least one positive size")
        bad = [s for s in sizes if s % sizes[0]]
        if bad:
            raise ValueError(f"window sizes {bad} are not multiples of the smallest size {sizes[0]}")
        return sizes


def _first(attrs: dict, keys: tuple[str, ...]) -> str:
    for k in keys:
        v = attrs.get(k)
        if v:
            return v
    return ""


class WindowAggregator:
    """Per-worker windowed partial aggregation: add_batch / close_ready / flush_all."""

    def __init__(self, config: WindowConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self.config = cfg = config or WindowConfig()
        self._clock = clock
        self._sizes = cfg.window_sizes_s
        self._base = self._sizes[0]
        self._coarse_sizes = self._sizes[1:]
        self._mult = index_multiplier(cfg.sketch_alpha)
        self._payment_names = frozenset(cfg.payment_metric_names)
        self._builder = PartialBuilder(cfg.sketch_alpha, cfg.sketch_max_buckets)
        self._windows: dict[float, Window] = {}
        self._coarse: dict[tuple[int, float], Window] = {}
        self._open_from = _NEG_INF
        self._watermark = _NEG_INF
        self._partitions: dict[object, list[float]] = {}  # partition -> [max accepted ts, wall time last accepted]
        self._prev: dict[tuple, list[float]] = {}  # counter series -> [ts, value] of its newest sample
        self._prev_evicted_upto = _NEG_INF
        self._warned: set[str] = set()
        self.rejected: dict[str, int] = {}
        self.overflow_events: dict[str, int] = {}
        self.events_aggregated = 0

    # -- hot path ---------------------------------------------------------------------------------

    def add_batch(self, events: Sequence[dict], partition: object = 0) -> list[tuple[str, dict]]:
        """Aggregate canonical events; return those not aggregated as (reason, event)."""
        now = self._clock()
        future_limit = now + self.config.future_tolerance_s
        open_from = self._open_from
        base = self._base
        windows = self._windows
        prev_counters = self._prev
        payment_names = self._payment_names
        max_series = self.config.max_series
        mult = self._mult
        max_buckets = self.config.sketch_max_buckets
        zt = ZERO_THRESHOLD
        log_, ceil_ = _log, _ceil
        sort_keys = OPT_SORT_KEYS
        suffixes = COUNTER_SUFFIXES
        # Stands in for the actor / source-IP accumulator of an event without one; absorbs its updates.
        no_acc = [0, 0]
        rejected: list[tuple[str, dict]] = []
        newest = _NEG_INF
        cur_ws = None
        win = metrics = logs = security = actors = ips = guard = None
        for ev in events:
            try:
                ts = ev["ts"]
                if ts > future_limit:
                    rejected.append(("future", ev))
                    continue
                ws = ts - ts % base
                if not ws >= open_from:
                    rejected.append(("late" if ws < open_from else "invalid", ev))
                    continue
                if ws != cur_ws:
                    win = windows.get(ws)
                    if win is None:
                        win = windows[ws] = Window()
                    metrics, logs, guard = win.metrics, win.logs, win.guard
                    security, actors, ips = win.security, win.actors, win.ips
                    cur_ws = ws
                kind = ev["kind"]
                # Literal indices follow the metric layout in state.py (M_*): constants are cheaper
                # than global lookups, and this loop runs once per event.
                if kind == "log":
                    key = (ev["tenant"], ev["service"], ev["severity_text"])
                    error = ev["severity_number"] >= 17
                    attrs = ev["attributes"]
                    acc = logs.get(key)
                    if acc is None:
                        acc = logs[key] = [0, 0]
                    acc[0] += 1
                    if error:
                        acc[1] += 1
                    if attrs and ("payment.provider" in attrs or "provider" in attrs):
                        self._add_payment(win, ev["tenant"], attrs)
                elif kind == "metric":
                    value = ev["value"]
                    if value - value:  # NaN or +-inf (a str raises TypeError)
                        rejected.append(("invalid", ev))
                        continue
                    labels = ev["labels"]
                    key = (ev["tenant"], ev["service"], ev["name"],
                           dumps(labels, option=sort_keys) if labels else b"{}")
                    acc = metrics.get(key)
                    if acc is not None:
                        prev = acc[13]
                        if prev is not None:
                            if ts > prev[0]:
                                pv = prev[1]
                                acc[6] += value - pv if value >= pv else value
                                prev[0] = ts
                                prev[1] = value
                        elif value >= zt:
                            store = acc[7]
                            i = ceil_(log_(value) * mult)
                            store[i] = store.get(i, 0) + 1
                            if len(store) > max_buckets:
                                collapse_lowest(store, max_buckets)
                        elif not acc[12]:
                            if value <= -zt:
                                store = acc[8]
                                if store is None:
                                    store = acc[8] = {}
                                i = ceil_(log_(-value) * mult)
                                store[i] = store.get(i, 0) + 1
                                if len(store) > max_buckets:
                                    collapse_lowest(store, max_buckets)
                            else:
                                acc[9] += 1
                        acc[0] += 1
                        acc[1] += value
                        if value < acc[2]:
                            acc[2] = value
                        if value > acc[3]:
                            acc[3] = value
                        if ts > acc[4]:
                            acc[4] = ts
                            acc[5] = value
                        elif ts == acc[4] and value > acc[5]:
                            acc[5] = value
                        if acc[14]:
                            self._add_payment_metric(win, ev["tenant"], labels, value)
                    else:
                        # First sample of the series in this window: with scraped metrics (one
                        # sample per series per scrape interval) this is the common case.
                        name = key[2]
                        mtype = ev["type"]
                        unit = ev["unit"]
                        n = guard.get(name, 0)
                        if n >= max_series:
                            self._metric_overflow(win, key, ev, ts, value)
                        else:
                            guard[name] = n + 1
                            if mtype == "counter" or (mtype != "gauge" and name.endswith(suffixes)):
                                prev = prev_counters.get(key)
                                increase = 0.0
                                if prev is None:
                                    prev = prev_counters[key] = [ts, value]
                                elif ts > prev[0]:
                                    pv = prev[1]
                                    increase = value - pv if value >= pv else value
                                    prev[0] = ts
                                    prev[1] = value
                                metrics[key] = [1, value, value, value, ts, value, increase, {}, None, 0,
                                                mtype, unit, True, prev, name in payment_names]
                            elif value >= zt:
                                metrics[key] = [1, value, value, value, ts, value, 0.0,
                                                {ceil_(log_(value) * mult): 1}, None, 0,
                                                mtype, unit, False, None, name in payment_names]
                            else:
                                acc = metrics[key] = empty_metric(mtype, unit, False, name in payment_names)
                                apply_metric(acc, None, ts, value, mult, max_buckets)
                            if name in payment_names:
                                self._add_payment_metric(win, ev["tenant"], labels, value)
                elif kind == "security":
                    tenant = ev["tenant"]
                    outcome = ev["outcome"]
                    actor = ev["actor"]
                    ip = ev["source_ip"]
                    acc = security.get((tenant, ev["category"], ev["action"], outcome))
                    acc_actor = actors.get((tenant, actor)) if actor else no_acc
                    acc_ip = ips.get((tenant, ip)) if ip else no_acc
                    if acc is None or acc_actor is None or acc_ip is None:
                        self._security_slow(win, ev)
                    else:
                        acc[0] += 1
                        acc_actor[0] += 1
                        acc_ip[0] += 1
                        if outcome == "failure":
                            acc_actor[1] += 1
                            acc_ip[1] += 1
                else:
                    rejected.append(("invalid", ev))
                    continue
            except (KeyError, TypeError, ValueError, OverflowError, AttributeError):
                rejected.append(("invalid", ev))
                continue
            if ts > newest:
                newest = ts
        accepted = len(events) - len(rejected)
        self.events_aggregated += accepted
        if rejected:
            counts = self.rejected
            for reason, _ in rejected:
                counts[reason] = counts.get(reason, 0) + 1
        if accepted:
            state = self._partitions.get(partition)
            newest = min(newest, now)
            if state is None:
                self._partitions[partition] = [newest, now]
            else:
                if newest > state[0]:
                    state[0] = newest
                state[1] = now
        return rejected

    # -- slow paths: overflowed series, new security series, payments ------------------------------

    def _admit(self, win: Window, group: str, events: int) -> bool:
        """Count a new series of `group` in `win`, or record `events` as overflow."""
        n = win.guard.get(group, 0)
        if n < self.config.max_series:
            win.guard[group] = n + 1
            return True
        self.overflow_events[group] = self.overflow_events.get(group, 0) + events
        if group not in self._warned:
            self._warned.add(group)
            log.warning("series limit %d per window reached for %r: further series go to its %s series",
                        self.config.max_series, group, OVERFLOW)
        return False

    def _metric_overflow(self, win: Window, key: tuple, ev: dict, ts: float, value: float) -> None:
        name = key[2]
        self._admit(win, name, 1)  # over the limit: records the overflow
        target = (key[0], key[1], name, OVERFLOW_LABELS)
        acc = win.metrics.get(target)
        if acc is None:
            mtype = ev["type"]
            counter = mtype == "counter" or (mtype != "gauge" and name.endswith(COUNTER_SUFFIXES))
            acc = win.metrics[target] = empty_metric(mtype, ev["unit"], counter, name in self._payment_names)
        prev = None
        if acc[M_COUNTER]:
            # Previous values stay per real series, so increases stay right inside the overflow series.
            prev = self._prev.get(key)
            if prev is None:
                prev = self._prev[key] = [ts, value]
        apply_metric(acc, prev, ts, value, self._mult, self.config.sketch_max_buckets)
        if acc[M_PAYMENT]:
            self._add_payment_metric(win, ev["tenant"], ev["labels"], value)

    def _guarded(self, win: Window, store: dict, key: tuple, group: str, overflow_key: tuple, width: int) -> list:
        acc = store.get(key)
        if acc is None:
            if not self._admit(win, group, 1):
                key = overflow_key
                acc = store.get(key)
            if acc is None:
                acc = store[key] = [0] * width
        return acc

    def _security_slow(self, win: Window, ev: dict) -> None:
        tenant = ev["tenant"]
        outcome = ev["outcome"]
        actor = ev["actor"]
        ip = ev["source_ip"]
        failed = 1 if outcome == "failure" else 0
        key = (tenant, ev["category"], ev["action"], outcome)
        acc = self._guarded(win, win.security, key, "security", (tenant, OVERFLOW, OVERFLOW, outcome), 1)
        acc[0] += 1
        if actor:
            acc = self._guarded(win, win.actors, (tenant, actor), "security.actor", (tenant, OVERFLOW), 2)
            acc[0] += 1
            acc[1] += failed
        if ip:
            acc = self._guarded(win, win.ips, (tenant, ip), "security.source_ip", (tenant, OVERFLOW), 2)
            acc[0] += 1
            acc[1] += failed

    def _payment(self, win: Window, tenant: str, provider: str, merchant: str, currency: str,
                 status: str, amount: object) -> None:
        try:
            amount = float(amount) if amount not in (None, "") else math.nan
        except (TypeError, ValueError):
            amount = math.nan
        acc = self._guarded(win, win.payments, (tenant, provider, merchant, currency), "payment",
                            (tenant, provider, OVERFLOW, currency), 4)
        acc[0] += 1
        if status and status.lower() in FAILED_STATUSES:
            acc[1] += 1
        if amount - amount == 0.0:
            acc[2] += amount
            acc[3] += 1

    def _add_payment(self, win: Window, tenant: str, attrs: dict) -> None:
        k = PAYMENT_KEYS
        provider = _first(attrs, k["provider"])
        if provider:
            self._payment(win, tenant, provider, _first(attrs, k["merchant"]), _first(attrs, k["currency"]),
                          _first(attrs, k["status"]), _first(attrs, k["amount"]))

    def _add_payment_metric(self, win: Window, tenant: str, labels: dict, value: float) -> None:
        self._payment(win, tenant, labels.get("provider", ""), labels.get("merchant", ""),
                      labels.get("currency", ""), labels.get("status", ""), value)

    # -- watermark and closing ----------------------------------------------------------------------

    def watermark(self, now: float | None = None) -> float:
        """The global watermark at wall time `now` (monotonic; -inf before any event)."""
        now = self._clock() if now is None else now
        lateness = self.config.allowed_lateness_s
        idle = self.config.idle_timeout_s
        marks = []
        for newest, seen in self._partitions.values():
            mark = newest - lateness
            if now - seen >= idle:
                mark = max(mark, now - lateness)
            marks.append(mark)
        if marks:
            self._watermark = max(self._watermark, min(marks))
        return self._watermark

    def remove_partition(self, partition: object) -> None:
        """Forget a revoked partition so it no longer holds the watermark."""
        self._partitions.pop(partition, None)

    def close_ready(self, now: float | None = None) -> list[dict]:
        """Partials of every window (all sizes) whose end <= the watermark, oldest first."""
        wm = self.watermark(now)
        base = self._base
        out: list[dict] = []
        for ws in sorted(w for w in self._windows if w + base <= wm):
            out.extend(self._close_base(ws))
        if wm > self._open_from:
            self._open_from = wm - wm % base
        for key in sorted(k for k in self._coarse if k[1] + k[0] <= wm):
            out.extend(self._builder.window(self._coarse.pop(key), float(key[1]), key[0]))
        self._evict_counters(wm)
        return out

    def flush_all(self) -> list[dict]:
        """Partials of every open window, complete or not (shutdown, partition revocation).

        A window flushed early may get another partial later; partials merge downstream.
        """
        out: list[dict] = []
        for ws in sorted(self._windows):
            out.extend(self._close_base(ws))
        for key in sorted(self._coarse):
            out.extend(self._builder.window(self._coarse.pop(key), float(key[1]), key[0]))
        return out

    def _close_base(self, ws: float) -> list[dict]:
        win = self._windows.pop(ws)
        for size in self._coarse_sizes:
            cws = ws - ws % size
            coarse = self._coarse.get((size, cws))
            if coarse is None:
                coarse = self._coarse[(size, cws)] = Window()
            fold(coarse, win, self._admit, self.config.sketch_max_buckets)
        return self._builder.window(win, float(ws), self._base)

    def _evict_counters(self, wm: float) -> None:
        if wm == _NEG_INF:
            return
        horizon = wm - self.config.counter_ttl_s
        # A full scan once per largest window is plenty: the TTL is far longer than any window.
        if horizon - self._prev_evicted_upto < self._sizes[-1]:
            return
        self._prev_evicted_upto = horizon
        stale = [k for k, (ts, _) in self._prev.items() if ts < horizon]
        for k in stale:
            del self._prev[k]

    @property
    def open_windows(self) -> int:
        return len(self._windows) + len(self._coarse)
