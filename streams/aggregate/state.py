"""Window state: accumulator layouts, the per-sample metric update, and folding a
closed base window into a coarser one.

Accumulators are plain lists mutated in place (no object per event or series).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from streams.aggregate.sketch import ZERO_THRESHOLD, collapse_lowest, merge_store

# Metric accumulator: count, sum, min, max, last_ts, last, increase, positive store,
# negative store (None until a negative sample), zero count, type, unit, counter-like?,
# previous [ts, value] of the counter series (shared across windows), a payment metric?
(M_COUNT, M_SUM, M_MIN, M_MAX, M_LAST_TS, M_LAST, M_INC, M_POS, M_NEG, M_ZERO,
 M_TYPE, M_UNIT, M_COUNTER, M_PREV, M_PAYMENT) = range(15)

OVERFLOW = "__overflow__"
OVERFLOW_LABELS = b'{"__overflow__":"true"}'

# Guard group and overflow key of each non-metric family store (metrics use the metric name).
GUARDED = {
    "security": ("security", lambda k: (k[0], OVERFLOW, OVERFLOW, k[3])),
    "actors": ("security.actor", lambda k: (k[0], OVERFLOW)),
    "ips": ("security.source_ip", lambda k: (k[0], OVERFLOW)),
    "payments": ("payment", lambda k: (k[0], k[1], OVERFLOW, k[3])),
}

_log = math.log
_ceil = math.ceil


class Window:
    """Accumulators of one window, one dict per family, plus series counts per guard group.

    metrics: (tenant, service, name, labels JSON) -> metric accumulator
    logs: (tenant, service, severity_text) -> [count, errors]
    security: (tenant, category, action, outcome) -> [count]
    actors / ips: (tenant, actor | source_ip) -> [count, failures]
    payments: (tenant, provider, merchant, currency) -> [count, failures, amount_sum, amount_count]
    """

    __slots__ = ("metrics", "logs", "security", "actors", "ips", "payments", "guard")

    def __init__(self) -> None:
        self.metrics: dict[tuple, list] = {}
        self.logs: dict[tuple, list] = {}
        self.security: dict[tuple, list] = {}
        self.actors: dict[tuple, list] = {}
        self.ips: dict[tuple, list] = {}
        self.payments: dict[tuple, list] = {}
        self.guard: dict[str, int] = {}


def empty_metric(mtype: str, unit: str, counter: bool, payment: bool) -> list:
    return [0, 0.0, math.inf, -math.inf, -math.inf, None, 0.0, {}, None, 0, mtype, unit, counter, None, payment]


def apply_metric(acc: list, prev: list | None, ts: float, value: float, mult: float, max_buckets: int) -> None:
    """One sample into a metric accumulator (the slow-path twin of the inlined update in add_batch).

    `prev` is the counter series' previous [ts, value], None for non-counters.
    """
    if prev is not None:
        if ts > prev[0]:
            pv = prev[1]
            acc[M_INC] += value - pv if value >= pv else value
            prev[0] = ts
            prev[1] = value
    elif not acc[M_COUNTER]:
        if value >= ZERO_THRESHOLD:
            store = acc[M_POS]
            i = _ceil(_log(value) * mult)
        elif value <= -ZERO_THRESHOLD:
            store = acc[M_NEG]
            if store is None:
                store = acc[M_NEG] = {}
            i = _ceil(_log(-value) * mult)
        else:
            store = None
            acc[M_ZERO] += 1
        if store is not None:
            store[i] = store.get(i, 0) + 1
            if len(store) > max_buckets:
                collapse_lowest(store, max_buckets)
    acc[M_COUNT] += 1
    acc[M_SUM] += value
    if value < acc[M_MIN]:
        acc[M_MIN] = value
    if value > acc[M_MAX]:
        acc[M_MAX] = value
    if ts > acc[M_LAST_TS]:
        acc[M_LAST_TS] = ts
        acc[M_LAST] = value
    elif ts == acc[M_LAST_TS] and value > acc[M_LAST]:
        acc[M_LAST] = value


def _merge_metric(mine: list, acc: list, max_buckets: int) -> None:
    mine[M_COUNT] += acc[M_COUNT]
    mine[M_SUM] += acc[M_SUM]
    mine[M_MIN] = min(mine[M_MIN], acc[M_MIN])
    mine[M_MAX] = max(mine[M_MAX], acc[M_MAX])
    if (acc[M_LAST_TS], acc[M_LAST]) > (mine[M_LAST_TS], mine[M_LAST]):
        mine[M_LAST_TS], mine[M_LAST] = acc[M_LAST_TS], acc[M_LAST]
    mine[M_INC] += acc[M_INC]
    merge_store(mine[M_POS], acc[M_POS], max_buckets)
    if acc[M_NEG]:
        if mine[M_NEG] is None:
            mine[M_NEG] = {}
        merge_store(mine[M_NEG], acc[M_NEG], max_buckets)
    mine[M_ZERO] += acc[M_ZERO]


# admit(window, group, events) -> whether a new series of `group` fits in `window`
Admit = Callable[[Window, str, int], bool]


def fold(into: Window, win: Window, admit: Admit, max_buckets: int) -> None:
    """Merge closed window `win` into the coarser window `into`, re-applying the series guard."""
    for key, acc in win.metrics.items():
        if not acc[M_COUNT]:
            continue
        target = key
        if key not in into.metrics and key[3] != OVERFLOW_LABELS and not admit(into, key[2], acc[M_COUNT]):
            target = (key[0], key[1], key[2], OVERFLOW_LABELS)
        mine = into.metrics.get(target)
        if mine is None:
            mine = into.metrics[target] = empty_metric(acc[M_TYPE], acc[M_UNIT], acc[M_COUNTER], acc[M_PAYMENT])
        _merge_metric(mine, acc, max_buckets)
    for key, acc in win.logs.items():
        mine = into.logs.get(key)
        if mine is None:
            into.logs[key] = list(acc)
        else:
            mine[0] += acc[0]
            mine[1] += acc[1]
    for attr, (group, overflow_of) in GUARDED.items():
        store = getattr(into, attr)
        for key, acc in getattr(win, attr).items():
            target = key
            if key not in store:
                overflow_key = overflow_of(key)
                if key != overflow_key and not admit(into, group, acc[0]):
                    target = overflow_key
            mine = store.get(target)
            if mine is None:
                store[target] = list(acc)
            else:
                for i, v in enumerate(acc):
                    mine[i] += v
