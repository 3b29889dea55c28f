"""A quantile sketch with relative accuracy and bounded memory (DDSketch-style). Pure.

Values fall into logarithmic buckets: bucket `k` holds values in (gamma^(k-1), gamma^k], so any
quantile is answered within `accuracy` relative error (1 % by default), however skewed the
data. Memory grows with the spread of the values, not their number (about 230 buckets per
two decades at 1 %), and is capped: past `max_buckets`, the lowest buckets are merged, which
only blurs the smallest values. Counts are floats so a sketch can fade (`decay`) and always
reflect recent traffic.

Examples
--------
>>> sketch = QuantileSketch()
>>> for ms in range(1, 1001):
...     sketch.add(float(ms))
>>> p50, p99 = sketch.quantiles((0.5, 0.99))
>>> abs(p50 - 500) / 500 < 0.01, abs(p99 - 990) / 990 < 0.01
(True, True)
"""

from __future__ import annotations

import math
from typing import Any


class QuantileSketch:
    """Streaming quantiles of positive values within a relative error."""

    __slots__ = ("_ln_gamma", "accuracy", "buckets", "count", "max_buckets", "zeros")

    def __init__(self, accuracy: float = 0.01, max_buckets: int = 2048) -> None:
        if not 0 < accuracy < 1:
            raise ValueError("accuracy must be in (0, 1)")
        self.accuracy = accuracy
        self.max_buckets = max_buckets
        self._ln_gamma = math.log((1 + accuracy) / (1 - accuracy))
        self.buckets: dict[int, float] = {}
        self.zeros = 0.0  # values <= 0
        self.count = 0.0

    def add(self, value: float, weight: float = 1.0) -> None:
        """Add one value (with a weight, 1 by default)."""
        self.count += weight
        if value <= 0.0:
            self.zeros += weight
            return
        key = math.ceil(math.log(value) / self._ln_gamma)
        buckets = self.buckets
        buckets[key] = buckets.get(key, 0.0) + weight
        if len(buckets) > self.max_buckets:
            self._collapse()

    def _collapse(self) -> None:
        low, second = sorted(self.buckets)[:2]
        self.buckets[second] += self.buckets.pop(low)

    def quantile(self, q: float) -> float:
        """The value at quantile `q` in [0, 1] (NaN for an empty sketch)."""
        if self.count <= 0:
            return math.nan
        rank = q * (self.count - 1)
        if rank < self.zeros:
            return 0.0
        seen = self.zeros
        gamma = math.exp(self._ln_gamma)
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen > rank:
                return 2.0 * math.exp(key * self._ln_gamma) / (gamma + 1.0)
        return 2.0 * math.exp(max(self.buckets) * self._ln_gamma) / (gamma + 1.0)

    def quantiles(self, qs: tuple[float, ...]) -> list[float]:
        """Several quantiles in one pass over the buckets (qs ascending)."""
        if self.count <= 0:
            return [math.nan] * len(qs)
        out: list[float] = []
        gamma = math.exp(self._ln_gamma)
        keys = sorted(self.buckets)
        seen, index = self.zeros, 0
        for q in qs:
            rank = q * (self.count - 1)
            if rank < self.zeros:
                out.append(0.0)
                continue
            while index < len(keys) - 1 and seen + self.buckets[keys[index]] <= rank:
                seen += self.buckets[keys[index]]
                index += 1
            out.append(2.0 * math.exp(keys[index] * self._ln_gamma) / (gamma + 1.0))
        return out

    def merge(self, other: QuantileSketch) -> None:
        """Add every value of `other` (same accuracy) to this sketch."""
        if other._ln_gamma != self._ln_gamma:
            raise ValueError("cannot merge sketches of different accuracy")
        for key, weight in other.buckets.items():
            self.buckets[key] = self.buckets.get(key, 0.0) + weight
        self.zeros += other.zeros
        self.count += other.count
        while len(self.buckets) > self.max_buckets:
            self._collapse()

    def decay(self, factor: float, floor: float = 1e-3) -> None:
        """Multiply every count by `factor`, dropping buckets that fade below `floor`."""
        self.buckets = {k: w * factor for k, w in self.buckets.items() if w * factor >= floor}
        self.zeros *= factor
        self.count = self.zeros + sum(self.buckets.values())

    def clear(self) -> None:
        """Forget every value."""
        self.buckets = {}
        self.zeros = 0.0
        self.count = 0.0

    def to_list(self) -> list[Any]:
        """Plain data for a checkpoint."""
        return [self.accuracy, self.max_buckets, self.zeros, self.count, list(self.buckets.items())]

    @classmethod
    def from_list(cls, data: list[Any]) -> QuantileSketch:
        """Rebuild from `to_list()` output."""
        sketch = cls(float(data[0]), int(data[1]))
        sketch.zeros, sketch.count = float(data[2]), float(data[3])
        sketch.buckets = {int(k): float(w) for k, w in data[4]}
        return sketch
