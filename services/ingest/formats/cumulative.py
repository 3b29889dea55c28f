"""Memory of cumulative series, to turn running totals into per-interval values.

Caveat: this state lives in one ingest process. A series must keep reaching the same process
(the usual case: one collector or Prometheus keeps its connection); after a restart, or when a
series moves to another process, its first point only seeds the state and yields no rate.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class CounterState:
    """The previous point of each cumulative series, bounded (least recently seen evicted)."""

    def __init__(self, max_series: int = 500_000) -> None:
        self.max_series = max_series
        self._last: OrderedDict[str, Any] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._last)

    def swap(self, key: str, value: Any) -> Any:
        """Remember `value` as the latest point of `key`; return the previous one (or None)."""
        last = self._last
        previous = last.pop(key, None)
        last[key] = value
        if previous is None and len(last) > self.max_series:
            last.popitem(last=False)
            self.evicted += 1
        return previous

    def restore(self, key: str, value: Any) -> None:
        """Put back a previous point (the new one was older and must not replace it)."""
        self._last[key] = value

    def rate(self, key: str, t: float, value: float, start: float = 0.0) -> float | None:
        """Per-second increase of a cumulative counter since its previous point.

        None for the first point of a series, and for a point not newer than the previous one.
        A reset (the value went down, or the start time changed) yields the rate since the new
        start when the start time is known, else None.
        """
        last = self._last  # `swap`, inlined: this runs for every counter point
        previous = last.pop(key, None)
        last[key] = (t, value, start)
        if previous is None:
            if len(last) > self.max_series:
                last.popitem(last=False)
                self.evicted += 1
            return None
        last_t: float
        last_value: float
        last_start: float
        last_t, last_value, last_start = previous
        if t <= last_t:
            self.restore(key, previous)
            return None
        if value < last_value or (start > 0 and last_start > 0 and start != last_start):
            return value / (t - start) if 0 < start < t else None
        return (value - last_value) / (t - last_t)
