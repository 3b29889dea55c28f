"""An online double-seasonal load forecaster (Holt-Winters with daily and weekly seasons).

Pure domain logic: no bus, no clock. Points are averaged into fixed buckets (`step_s`); each
closed bucket updates a level, a daily and a weekly seasonal profile and an AR(1) term on the
one-step error (Taylor's double-seasonal exponential smoothing, additive in log space so a
daily swing scales with the level, as traffic does). Forecasts for the next buckets come from
the same state, so every forecast is made before the value it predicts is seen.

Memory is one float per bucket of the longest season (a week at 5-minute buckets: 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DAY_S = 86_400
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class ForecastPolicy:
    """How a series is bucketed and how fast each component adapts.

    The constants are the best of a six-point grid (docs/learning.md) on the artificial NAB
    daily series (`benchmarks/forecast.py --only artificial`); nyc_taxi beat the seasonal-naive
    baselines one and two buckets ahead at every point of that grid.
    """

    step_s: int = 300  # bucket width: one forecast per bucket
    daily_s: int = DAY_S
    weekly_s: int = WEEK_S
    alpha: float = 0.05  # level
    delta: float = 0.1  # daily profile
    omega: float = 0.3  # weekly profile
    phi: float = 0.8  # AR(1) on the one-step error: recent surprises carry on, fading
    floor: float = 1e-3  # log(value + floor): traffic is never negative, zero is allowed

    def __post_init__(self) -> None:
        if self.step_s <= 0 or self.daily_s % self.step_s or self.weekly_s % self.daily_s:
            raise ValueError("seasons must be whole multiples: step | daily | weekly")
        for name in ("alpha", "delta", "omega"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must lie in (0, 1)")
        if not 0 <= self.phi < 1:
            raise ValueError("phi must lie in [0, 1)")


@dataclass
class SeasonalForecaster:
    """Online forecaster of one series; `learn_one` then `forecast`.

    Examples
    --------
    >>> f = SeasonalForecaster(ForecastPolicy(step_s=60, daily_s=600, weekly_s=1200))
    >>> for t in range(0, 3600, 60):
    ...     _ = f.learn_one(t, 100.0 + (50.0 if (t // 60) % 10 < 5 else 0.0))
    >>> [round(v) for v in f.forecast(2)]  # the open bucket (minute 59), then minute 60
    [100, 150]
    """

    policy: ForecastPolicy = field(default_factory=ForecastPolicy)
    level: float | None = None
    daily: list[float] = field(default_factory=list)
    weekly: list[float] = field(default_factory=list)
    error: float = 0.0  # last one-step error (log space), for the AR(1) correction
    bucket: int | None = None  # index of the bucket being filled
    total: float = 0.0
    count: int = 0
    slot: int = -1  # absolute index of the last bucket learnt
    first: list[tuple[int, float]] = field(default_factory=list)  # first day (slot, log value)

    @property
    def warm(self) -> bool:
        """True once a full day was seen (before that, forecasts are the recent mean)."""
        return self.level is not None

    def learn_one(self, t: float, value: float) -> bool:
        """Add a point at unix time `t`; True when it closed a bucket (a new forecast is due)."""
        if not math.isfinite(value):
            return False
        index = int(t // self.policy.step_s)
        if self.bucket is None:
            self.bucket = index
        if index < self.bucket:
            return False  # late: its bucket is already learnt
        closed = False
        if index > self.bucket:
            if self.count:
                self.learn_bucket(self.bucket, self.total / self.count)
            self.total, self.count = 0.0, 0
            self.bucket, closed = index, True
        self.total += value
        self.count += 1
        return closed

    def learn_bucket(self, index: int, mean: float) -> None:
        """Learn the mean of bucket `index` (absolute: unix time // step_s) directly."""
        if index <= self.slot or not math.isfinite(mean):
            return
        if self.slot >= 0:
            # Buckets with no points at all: learn the model's own forecast (no surprise).
            for gap in range(max(self.slot + 1, index - self._daily_n), index):
                self._update(gap, self._predict_log(gap - self.slot))
        self._update(index, math.log(max(mean, 0.0) + self.policy.floor))

    def forecast(self, horizon: int) -> list[float]:
        """Expected mean of each of the next `horizon` buckets after the last closed one."""
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        return [max(math.exp(self._predict_log(k)) - self.policy.floor, 0.0)
                for k in range(1, horizon + 1)]  # fmt: skip

    # -- internals ---------------------------------------------------------------------------

    @property
    def _daily_n(self) -> int:
        return self.policy.daily_s // self.policy.step_s

    @property
    def _weekly_n(self) -> int:
        return self.policy.weekly_s // self.policy.step_s

    def _update(self, slot: int, y: float) -> None:
        self.slot = slot
        if self.level is None:
            self.first.append((slot, y))
            if len(self.first) == self._daily_n:
                self._start()
            return
        p = self.policy
        d_i, w_i = slot % self._daily_n, slot % self._weekly_n
        d, w = self.daily[d_i], self.weekly[w_i]
        self.error = y - (self.level + d + w + p.phi * self.error)
        level = self.level + p.alpha * (y - self.level - d - w)
        self.daily[d_i] = d + p.delta * (y - level - w - d)
        self.weekly[w_i] = w + p.omega * (y - level - d - w)
        self.level = level

    def _start(self) -> None:
        mean = sum(y for _, y in self.first) / len(self.first)
        self.level = mean
        self.daily = [0.0] * self._daily_n
        for slot, y in self.first:
            self.daily[slot % self._daily_n] = y - mean
        self.weekly = [0.0] * self._weekly_n
        self.first = []

    def _predict_log(self, k: int) -> float:
        """Log-space forecast of the bucket `k` steps after the last closed one."""
        if self.level is None:
            if not self.first:
                return math.log(self.policy.floor)
            recent = [y for _, y in self.first[-12:]]
            return sum(recent) / len(recent)
        slot = self.slot + k
        return (
            self.level
            + self.daily[slot % self._daily_n]
            + self.weekly[slot % self._weekly_n]
            + self.policy.phi**k * self.error
        )
