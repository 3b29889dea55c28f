"""Resource-exhaustion forecasts: when will a memory or disk series reach its limit? Pure.

Each resource series keeps two weighted trend fits, a short one (recent slope) and a long one
(sustained slope). The time to the limit is extrapolated from the *smaller* of the two slopes:
a leak keeps or steepens its slope, while a cache warming up or a batch job decelerates, and
its short slope soon stops promising an exhaustion the long one still sees. The probability
of reaching the limit within the horizon treats the slope as normal around its estimate with
the fit's standard error, so a noisy, uncertain climb scores lower than a steady one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from services.detect.predict.trend import TrendFit


@dataclass(frozen=True)
class ExhaustionPolicy:
    """How far ahead to look and how the trend is fitted."""

    horizon_s: float = 3600.0  # "exhausted within the next hour" is what the probability means
    short_half_life_s: float = 600.0
    long_half_life_s: float = 2400.0
    min_points: int = 12  # no forecast before this many points of the series


@dataclass(frozen=True)
class Exhaustion:
    """A forecast for one series: its fitted level, limit, slope and when they meet."""

    level: float
    limit: float
    slope_per_s: float
    seconds_to_limit: float | None  # None: not heading for the limit
    probability: float  # of reaching the limit within the horizon

    @property
    def saturation(self) -> float:
        """Fitted level as a fraction of the limit."""
        return self.level / self.limit if self.limit > 0 else 0.0


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@dataclass
class ExhaustionForecaster:
    """Trend fits of one resource series against its limit.

    Examples
    --------
    >>> f = ExhaustionForecaster(ExhaustionPolicy(horizon_s=3600))
    >>> for t in range(0, 1800, 30):
    ...     f.learn_one(t, 50.0 + t / 100)  # +1 every 100 s, from 50
    >>> e = f.forecast(limit=100.0)
    >>> round(e.seconds_to_limit), e.probability > 0.99
    (3230, True)
    """

    policy: ExhaustionPolicy = field(default_factory=ExhaustionPolicy)
    short: TrendFit = field(init=False)
    long: TrendFit = field(init=False)

    def __post_init__(self) -> None:
        self.short = TrendFit(self.policy.short_half_life_s)
        self.long = TrendFit(self.policy.long_half_life_s)

    def learn_one(self, t: float, value: float) -> None:
        """Add one sample of the resource series."""
        self.short.learn_one(t, value)
        self.long.learn_one(t, value)

    def forecast(self, limit: float) -> Exhaustion | None:
        """Time to `limit` and the probability of reaching it within the horizon."""
        if self.short.n < self.policy.min_points or not limit > 0:
            return None
        level = self.short.level()
        fit = min((self.short, self.long), key=lambda f: f.slope)
        slope = fit.slope
        if level >= limit:
            return Exhaustion(level, limit, slope, 0.0, 1.0)
        needed = (limit - level) / self.policy.horizon_s  # slope that just makes it in time
        stderr = fit.slope_stderr()
        if slope <= 0:
            seconds = None
        else:
            seconds = (limit - level) / slope
        if math.isinf(stderr) or stderr <= 0:
            probability = 1.0 if slope >= needed else 0.0
        else:
            probability = _phi((slope - needed) / stderr)
        return Exhaustion(level, limit, slope, seconds, probability)
