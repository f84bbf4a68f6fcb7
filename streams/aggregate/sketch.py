"""DDSketch: a mergeable quantile sketch with a relative-error guarantee.

Guarantee: for any value x with |x| >= ZERO_THRESHOLD (1e-9) that is not in a
collapsed bucket, `quantile(q)` returns v with |v - x| <= alpha * |x|, where x is
the exact q-quantile of the values added, using ClickHouse's
`quantileExactWeighted` rank convention: the k-th smallest value with
k = max(1, ceil(q * n)). With the default alpha = 0.01 that is 1 % relative
error. Values with |x| < ZERO_THRESHOLD count as exact zeros.

Layout (Masson, Rim & Lee, "DDSketch", VLDB 2019): gamma = (1 + alpha) / (1 - alpha);
a positive x falls in bucket i = ceil(log(x) / log(gamma)), covering
(gamma^(i-1), gamma^i], whose representative 2 * gamma^i / (gamma + 1) is within
alpha of every value in it. Negative values use the same indexing on |x| in a
second store; zeros have their own count.

Bounded size: each store keeps at most `max_buckets` indices. When it grows past
that, the lowest indices (smallest magnitudes) are folded into the lowest kept
index, so only low quantiles lose accuracy, which latency-like data can afford.
The stored state is then "top max_buckets distinct indices ever seen, everything
below folded into the lowest of them", a function of the multiset of indices
alone, so merging sketches is exact: merge(a, b) has bucket for bucket the same
counts as one sketch fed the union of both inputs.

The hot path (streams.aggregate.windows) updates plain index->count dicts with
`bucket_index` semantics inlined; everything here works on the same dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

DEFAULT_ALPHA = 0.01
DEFAULT_MAX_BUCKETS = 2048
ZERO_THRESHOLD = 1e-9

_log = math.log
_ceil = math.ceil


def index_multiplier(alpha: float) -> float:
    """1 / log(gamma): `ceil(log(|x|) * multiplier)` is the bucket index of x."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"sketch alpha must be in (0, 1), got {alpha!r}")
    return 1.0 / _log((1.0 + alpha) / (1.0 - alpha))


def collapse_lowest(store: dict[int, int], max_buckets: int) -> None:
    """Fold the lowest indices of `store` into the lowest kept one, in place."""
    if len(store) <= max_buckets:
        return
    ordered = sorted(store)
    cut = len(ordered) - max_buckets
    folded = 0
    for index in ordered[:cut]:
        folded += store.pop(index)
    store[ordered[cut]] += folded


def merge_store(into: dict[int, int], other: dict[int, int], max_buckets: int) -> None:
    get = into.get
    for index, count in other.items():
        into[index] = get(index, 0) + count
    if len(into) > max_buckets:
        collapse_lowest(into, max_buckets)


def stores_to_dict(pos: dict[int, int], neg: dict[int, int] | None, zero: int,
                   alpha: float = DEFAULT_ALPHA, max_buckets: int = DEFAULT_MAX_BUCKETS) -> dict:
    """The serialized sketch (see DDSketch.to_dict) straight from hot-path stores."""
    return {
        "a": alpha,
        "m": max_buckets,
        "p": [list(pos), list(pos.values())],
        "n": [list(neg), list(neg.values())] if neg else [[], []],
        "z": zero,
    }


class DDSketch:
    """Relative-error quantile sketch; see the module docstring for the guarantee."""

    __slots__ = ("alpha", "max_buckets", "pos", "neg", "zero", "_mult", "_gamma")

    def __init__(self, alpha: float = DEFAULT_ALPHA, max_buckets: int = DEFAULT_MAX_BUCKETS) -> None:
        if max_buckets < 1:
            raise ValueError(f"sketch max_buckets must be >= 1, got {max_buckets!r}")
        self.alpha = alpha
        self.max_buckets = max_buckets
        self._mult = index_multiplier(alpha)
        self._gamma = (1.0 + alpha) / (1.0 - alpha)
        self.pos: dict[int, int] = {}
        self.neg: dict[int, int] = {}
        self.zero = 0

    @property
    def count(self) -> int:
        return self.zero + sum(self.pos.values()) + sum(self.neg.values())

    def add(self, value: float, weight: int = 1) -> None:
        if value >= ZERO_THRESHOLD:
            store = self.pos
            index = _ceil(_log(value) * self._mult)
        elif value <= -ZERO_THRESHOLD:
            store = self.neg
            index = _ceil(_log(-value) * self._mult)
        elif value == value:
            self.zero += weight
            return
        else:
            raise ValueError("cannot add NaN to a sketch")
        store[index] = store.get(index, 0) + weight
        if len(store) > self.max_buckets:
            collapse_lowest(store, self.max_buckets)

    def update(self, values: Iterable[float]) -> None:
        for value in values:
            self.add(value)

    def merge(self, other: DDSketch) -> None:
        if other.alpha != self.alpha or other.max_buckets != self.max_buckets:
            raise ValueError(
                f"cannot merge sketches with different parameters: "
                f"alpha {self.alpha} / {other.alpha}, max_buckets {self.max_buckets} / {other.max_buckets}"
            )
        merge_store(self.pos, other.pos, self.max_buckets)
        merge_store(self.neg, other.neg, self.max_buckets)
        self.zero += other.zero

    def value_of(self, index: int) -> float:
        """Representative (positive) value of bucket `index`."""
        return 2.0 * self._gamma**index / (self._gamma + 1.0)

    def buckets(self) -> tuple[list[float], list[int]]:
        """(representative values ascending, counts): the whole sketch as weighted points.

        A weighted exact quantile over these points (ClickHouse
        `quantilesExactWeighted(...)(value, weight)`) equals `quantile()`.
        """
        values: list[float] = []
        counts: list[int] = []
        value_of = self.value_of
        for index in sorted(self.neg, reverse=True):
            values.append(-value_of(index))
            counts.append(self.neg[index])
        if self.zero:
            values.append(0.0)
            counts.append(self.zero)
        for index in sorted(self.pos):
            values.append(value_of(index))
            counts.append(self.pos[index])
        return values, counts

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 <= q <= 1), or None for an empty sketch."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {q!r}")
        values, counts = self.buckets()
        total = sum(counts)
        if total == 0:
            return None
        rank = max(1, _ceil(total * q))
        seen = 0
        for value, count in zip(values, counts, strict=True):
            seen += count
            if seen >= rank:
                return value
        return values[-1]

    def to_dict(self) -> dict:
        """JSON-friendly form: {"a": alpha, "m": max_buckets, "p": [indices, counts],
        "n": [indices, counts], "z": zero count}. Bucket order inside the lists is not significant."""
        return stores_to_dict(self.pos, self.neg, self.zero, self.alpha, self.max_buckets)

    @classmethod
    def from_dict(cls, data: dict) -> DDSketch:
        sketch = cls(data.get("a", DEFAULT_ALPHA), data.get("m", DEFAULT_MAX_BUCKETS))
        pos = data.get("p") or ((), ())
        neg = data.get("n") or ((), ())
        sketch.pos = dict(zip(pos[0], pos[1], strict=True))
        sketch.neg = dict(zip(neg[0], neg[1], strict=True))
        sketch.zero = int(data.get("z", 0))
        return sketch

    @classmethod
    def from_stores(
        cls, pos: dict[int, int], neg: dict[int, int], zero: int,
        alpha: float = DEFAULT_ALPHA, max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> DDSketch:
        """Wrap stores built by the hot path (taken over, not copied)."""
        sketch = cls(alpha, max_buckets)
        sketch.pos, sketch.neg, sketch.zero = pos, neg, zero
        return sketch

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DDSketch):
            return NotImplemented
        return (self.alpha, self.max_buckets, self.pos, self.neg, self.zero) == (
            other.alpha, other.max_buckets, other.pos, other.neg, other.zero,
        )

    def __repr__(self) -> str:
        return f"DDSketch(alpha={self.alpha}, count={self.count}, buckets={len(self.pos) + len(self.neg)})"
