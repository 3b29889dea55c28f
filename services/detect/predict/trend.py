"""An exponentially weighted linear trend of one series, updated online. Pure.

Weighted least squares of value on time, where a point `age` seconds old weighs
`0.5 ** (age / half_life_s)`: the fit follows the recent slope and forgets old regimes.
Times are kept relative to the first point, so unix-sized numbers never meet in a product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class TrendFit:
    """Online weighted linear regression value ~ a + b * t.

    Examples
    --------
    >>> fit = TrendFit(half_life_s=600)
    >>> for t in range(0, 1200, 10):
    ...     fit.learn_one(1_700_000_000 + t, 2.0 * t + 5)
    >>> round(fit.slope, 6), round(fit.level(), 3)
    (2.0, 2385.0)
    """

    half_life_s: float
    origin: float | None = None
    last_t: float = 0.0
    w: float = 0.0  # sums of weights, t, y, t*t, t*y, y*y (all decayed)
    st: float = 0.0
    sy: float = 0.0
    stt: float = 0.0
    sty: float = 0.0
    syy: float = 0.0
    n: int = 0

    def learn_one(self, t: float, y: float) -> None:
        """Add a point; points not later than the last one are ignored."""
        if not math.isfinite(y):
            return
        if self.origin is None:
            self.origin = t
        x = t - self.origin
        if self.n and x <= self.last_t:
            return
        decay = 0.5 ** ((x - self.last_t) / self.half_life_s) if self.n else 1.0
        self.w = self.w * decay + 1.0
        self.st = self.st * decay + x
        self.sy = self.sy * decay + y
        self.stt = self.stt * decay + x * x
        self.sty = self.sty * decay + x * y
        self.syy = self.syy * decay + y * y
        self.last_t = x
        self.n += 1

    @property
    def _spread(self) -> float:
        """Weighted variance of time times the weight sum (0 until two distinct times)."""
        return self.stt - self.st * self.st / self.w if self.w else 0.0

    @property
    def slope(self) -> float:
        """Value units per second (0 before two points)."""
        spread = self._spread
        if self.n < 2 or spread <= 1e-9:
            return 0.0
        return (self.sty - self.st * self.sy / self.w) / spread

    def level(self) -> float:
        """The fitted value at the last point's time."""
        if not self.w:
            return 0.0
        mean_t, mean_y = self.st / self.w, self.sy / self.w
        return mean_y + self.slope * (self.last_t - mean_t)

    def slope_stderr(self) -> float:
        """Standard error of the slope (inf while fewer than three points)."""
        spread = self._spread
        if self.n < 3 or spread <= 1e-9:
            return math.inf
        syy = self.syy - self.sy * self.sy / self.w
        residual = max(syy - self.slope**2 * spread, 0.0)
        dof = max(self.w - 2.0, 1.0)
        return math.sqrt(residual / dof / spread)
