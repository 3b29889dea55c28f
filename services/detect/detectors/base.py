"""What every series detector provides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Assessment:
    """A detector's verdict on one point: an anomaly score in [0, 1] and what it expected."""

    score: float
    expected: float
    lower: float
    upper: float
    component: str
    warm: bool = True


class SeriesDetector(Protocol):
    """Scores a point against what it learned so far, then learns from it (one pass, online)."""

    name: str

    def assess(self, timestamp: float, value: float) -> Assessment:
        """Score `value` at `timestamp` (unix seconds) and update the model with it."""
        ...
