"""A robust online z-score: the foundation's simple detector and the fallback of last resort."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.detect.detectors.base import Assessment


@dataclass
class RobustZScore:
    """Exponentially weighted mean and mean absolute deviation, scored as a robust z-score.

    Learning is Huberised (a point moves the model by at most `clip` spreads) and points that
    look anomalous are learned at a tenth of the usual rate, so a fault does not quickly become
    the new normal (and its end is not mistaken for a second fault), while a lasting level
    shift is still absorbed eventually.

    Examples
    --------
    >>> d = RobustZScore(warmup=20)
    >>> for i in range(200):
    ...     _ = d.assess(i, 10.0 + (i % 5) * 0.1)
    >>> d.assess(200, 10.2).score < 0.5
    True
    >>> d.assess(201, 50.0).score > 0.9
    True
    """

    alpha: float = 0.03
    warmup: int = 30
    scale: float = 3.0  # z at which the score reaches 0.5
    clip: float = 3.0  # most spreads one point may pull the model
    name: str = "robust_zscore"
    mean: float = 0.0
    mad: float = 0.0
    count: int = 0

    def assess(self, timestamp: float, value: float) -> Assessment:
        """Score the point, then learn from it."""
        spread = 1.4826 * self.mad + 1e-9 + 1e-3 * abs(self.mean)
        z = abs(value - self.mean) / spread
        warm = self.count >= self.warmup
        score = z * z / (z * z + self.scale * self.scale) if warm else 0.0
        band = 4.0 * spread
        result = Assessment(
            score=score if math.isfinite(score) else 1.0,
            expected=self.mean,
            lower=self.mean - band,
            upper=self.mean + band,
            component=self.name,
            warm=warm,
        )
        self._learn(value, spread, warm=warm, anomalous=score > 0.8)
        return result

    def _learn(self, value: float, spread: float, *, warm: bool, anomalous: bool) -> None:
        self.count += 1
        if self.count == 1:
            self.mean = value
            return
        # Early on learn fast (a plain running average), later at the configured rate.
        rate = max(self.alpha, 1.0 / self.count)
        if warm:
            limit = self.clip * spread
            value = min(max(value, self.mean - limit), self.mean + limit)
        if anomalous:
            rate /= 10.0
        deviation = abs(value - self.mean)
        self.mean += rate * (value - self.mean)
        self.mad += rate * (deviation - self.mad)
