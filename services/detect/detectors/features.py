"""Online features of one metric series: forecasts, residual surprise, envelopes, counters.

Everything here is O(1) per point with fixed-size state, so a detector built from these pieces
has bounded memory per series and pickles small. The pieces:

- `Forecaster`: a fast exponentially weighted level plus daily and weekly additive seasonal
  profiles (Holt-Winters without trend), each with a robust error scale. The residual surprise
  of a point is its largest robust z over the heads that predict about as well as the best one,
  so a broken daily pattern is seen even when a fast follower happens to predict well too.
- `Envelope`: the range a feature has ever taken; a value beyond it by a fraction of its width
  is unprecedented (HTM's "spatial anomaly", generalised to smoothed levels and volatilities).
- `StuckRun`: how long the value has not changed, against the longest such run before.
- `CounterGuard`: recognises monotone counters and turns them into rates, so resets are not
  anomalies and a counter's steady growth is not a drift.
"""

from __future__ import annotations

import math
from array import array

DAY = 86_400.0
WEEK = 7 * DAY
TINY = 1e-12


class SeasonalHead:
    """Level plus one additive offset per phase bucket of `period` seconds.

    Examples
    --------
    >>> head = SeasonalHead(period=4.0, width=1.0, alpha=0.05, gamma=0.5)
    >>> for t in range(40):
    ...     head.learn(head.bucket(t), [0.0, 10.0, 0.0, -10.0][t % 4])
    >>> round(head.predict(head.bucket(41)), 1)
    10.0
    """

    __slots__ = ("alpha", "b", "error", "gamma", "level", "p", "period", "profile", "width")

    def __init__(self, period: float, width: float, alpha: float, gamma: float) -> None:
        self.period = period
        self.width = width
        self.alpha = alpha
        self.gamma = gamma
        self.profile = array("d", [math.nan]) * max(1, int(period // width))
        self.level = math.nan
        self.error = math.nan  # robust mean absolute error of this head's predictions
        self.b = 0  # bucket and prediction of the point being assessed
        self.p = math.nan

    def bucket(self, timestamp: float) -> int:
        """Phase bucket of a timestamp."""
        return int((timestamp % self.period) // self.width) % len(self.profile)

    def predict(self, bucket: int) -> float:
        """Expected value in a bucket (NaN until the bucket has been seen once)."""
        return self.level + self.profile[bucket]

    def learn(self, bucket: int, value: float) -> None:
        """Update level and the bucket's offset with an (already clipped) value."""
        if self.level != self.level:  # NaN: first point
            self.level = value
        offset = self.profile[bucket]
        if offset != offset:
            self.profile[bucket] = value - self.level
            return
        self.level += self.alpha * (value - offset - self.level)
        self.profile[bucket] = offset + self.gamma * (value - self.level - offset)


class Forecaster:
    """Competing forecasts of the next value and the robust surprise of what arrives."""

    __slots__ = (
        "competent",
        "error_clip",
        "error_rate",
        "expected",
        "fast",
        "fast_error",
        "fast_rate",
        "heads",
        "n",
        "scale",
        "seasonal_alpha",
        "seasonal_gamma",
        "source",
    )

    def __init__(
        self,
        *,
        fast_rate: float,
        error_rate: float,
        error_clip: float,
        competent: float,
        seasonal_alpha: float,
        seasonal_gamma: float,
    ) -> None:
        self.fast_rate = fast_rate
        self.error_rate = error_rate
        self.error_clip = error_clip
        self.competent = competent
        self.seasonal_alpha = seasonal_alpha
        self.seasonal_gamma = seasonal_gamma
        self.fast = math.nan
        self.fast_error = math.nan
        self.heads: list[SeasonalHead] = []
        self.n = 0
        self.expected = math.nan
        self.scale = math.nan
        self.source = "fast"  # the head whose surprise was largest at the last point

    def add_seasonality(self, step: float) -> None:
        """Add daily and weekly heads once the sampling step is known (if they can resolve it)."""
        if step <= 2 * 3600:
            self.heads.append(
                SeasonalHead(DAY, max(step, 300.0), self.seasonal_alpha, self.seasonal_gamma)
            )
        if step <= 6 * 3600:
            self.heads.append(
                SeasonalHead(WEEK, max(step, 1800.0), self.seasonal_alpha, self.seasonal_gamma)
            )

    def surprise(self, timestamp: float, value: float, spread_boost: float = 1.0) -> float:
        """Robust z of `value` under the competent heads, then learn it.

        `spread_boost` widens the fast head's spread after a gap in the data (the level may have
        wandered meanwhile). Sets `expected`, `scale` and `source` for the explanation.
        """
        self.n += 1
        if self.n == 1:
            self.fast = value
            self.expected, self.scale = value, abs(value) * 1e-3 + TINY
            return 0.0
        fast, fast_error = self.fast, self.fast_error
        best_error = fast_error if fast_error == fast_error else math.inf
        best_pred = fast
        heads = self.heads
        for head in heads:
            b = head.b = head.bucket(timestamp)
            p = head.p = head.level + head.profile[b]
            e = head.error
            if p == p and e == e and e < best_error:
                best_error, best_pred = e, p
        if best_error == math.inf:  # nothing has an error yet: second point
            best_error = abs(value - fast) + TINY
        fast_z = math.inf  # the fast head does not count until it is competent
        limit = self.competent * best_error
        if fast_error == fast_error and fast_error <= limit:
            fast_z = abs(value - fast) / (
                (1.25 * fast_error + TINY + 1e-6 * abs(fast)) * spread_boost
            )
        seasonal_z = 0.0
        for head in heads:
            p, e = head.p, head.error
            if p == p and e == e and e <= limit:
                zz = abs(value - p) / (1.25 * e + TINY + 1e-6 * abs(p))
                if zz > seasonal_z:
                    seasonal_z = zz
        if fast_z == math.inf:
            z, source = seasonal_z, "seasonal" if seasonal_z > 0.0 else "fast"
        else:
            z = fast_z if fast_z > seasonal_z else seasonal_z
            # "Seasonal" only when the pattern, not the recent level, is what was broken.
            source = "seasonal" if seasonal_z > 3.0 and seasonal_z > 2.0 * fast_z else "fast"
        scale = 1.25 * best_error + TINY + 1e-6 * abs(best_pred)  # 1.25 MAE ~ one sigma
        self.expected, self.scale, self.source = best_pred, scale, source
        self._learn(value, best_pred, scale)
        return z

    def _learn(self, value: float, best_pred: float, scale: float) -> None:
        n = self.n
        rate = self.error_rate if n * self.error_rate >= 1.0 else 1.0 / n
        clip = self.error_clip
        e = abs(value - self.fast)
        old = self.fast_error
        if old != old:
            self.fast_error = e
        else:
            self.fast_error = old + rate * (
                (e if e < clip * old + TINY else clip * old + TINY) - old
            )
        for head in self.heads:
            if head.p == head.p:
                e, old = abs(value - head.p), head.error
                if old != old:  # a new head must earn its competence: start no better than fast
                    head.error = e if e > self.fast_error else self.fast_error
                else:
                    bound = clip * old + TINY
                    head.error = old + rate * ((e if e < bound else bound) - old)
        # Huberised learning: an outlier moves the models by at most four spreads.
        if n > 30:
            limit = 4.0 * scale
            value = min(max(value, best_pred - limit), best_pred + limit)
        fast_rate = self.fast_rate if n * self.fast_rate >= 1.0 else 1.0 / n
        self.fast += fast_rate * (value - self.fast)
        for head in self.heads:
            head.learn(head.b, value)


class Envelope:
    """The range a feature has taken so far; reports how far a value lies beyond it.

    Examples
    --------
    >>> env = Envelope()
    >>> for v in [1.0, 3.0, 2.0]:
    ...     env.absorb(v)
    >>> env.excess(2.5), round(env.excess(4.0), 2), round(env.excess(0.0), 2)
    (-0.25, 0.5, 0.5)
    >>> env.rise(0.0), env.rise(4.0)
    (-1.5, 0.5)
    """

    __slots__ = ("hi", "lo")

    def __init__(self) -> None:
        self.lo = math.inf
        self.hi = -math.inf

    def excess(self, value: float) -> float:
        """Distance beyond the range in units of its width (negative inside, -1 if no width)."""
        width = self.hi - self.lo
        if not width > 0.0:
            return -1.0
        return max(value - self.hi, self.lo - value) / width

    def rise(self, value: float) -> float:
        """Distance above the range in units of its width (negative below its top)."""
        width = self.hi - self.lo
        if not width > 0.0:
            return -1.0
        return (value - self.hi) / width

    def absorb(self, value: float) -> None:
        """Widen the range to include `value`."""
        if value < self.lo:
            self.lo = value
        if value > self.hi:
            self.hi = value


class StuckRun:
    """Runs of unchanged values, judged against the longest run the series has had before.

    A change below a hundredth of the typical change counts as "unchanged", so a sensor that
    freezes at a noisy value is caught, while a series that is always constant never is.
    `update` returns how far the current run exceeds its bar (positive: unprecedented).

    Examples
    --------
    >>> stuck = StuckRun(minimum=5, tolerance=0.1, decay=0.0)
    >>> [round(stuck.update(0.0, 1.0), 2) for _ in range(6)][-2:]
    [0.0, 0.2]
    """

    __slots__ = ("decay", "longest", "minimum", "run", "tolerance")

    def __init__(self, minimum: int, tolerance: float, decay: float) -> None:
        self.minimum = minimum
        self.tolerance = tolerance
        self.decay = decay
        self.run = 0
        self.longest = 0.0

    def update(self, change: float, typical: float) -> float:
        """Extend or end the current run; return its relative excess over the bar."""
        self.longest *= 1.0 - self.decay
        if typical > 0.0 and change <= 1e-2 * typical:
            self.run += 1
            bar = max(float(self.minimum), self.longest * (1.0 + self.tolerance))
            return self.run / bar - 1.0
        if self.run > self.longest:
            self.longest = float(self.run)
        self.run = 0
        return -1.0


class CounterGuard:
    """Turns a monotone counter into a rate; leaves gauges alone.

    The decision is taken once, after `decide_after` points: a series that never decreased
    and mostly increased is a counter. From then on a drop is a reset (the counter restarted
    from zero), never an anomaly by itself. `baseline` and `elapsed` say what the last rate was
    measured from, so a rate can be explained back in counter units.

    Examples
    --------
    >>> guard = CounterGuard(decide_after=5)
    >>> [guard.transform(float(t), 10.0 * t) for t in range(1, 8)][-3:]
    [None, 10.0, 10.0]
    >>> guard.transform(8.0, 5.0)  # reset: the counter restarted and counted 5
    5.0
    """

    __slots__ = (
        "baseline",
        "decide_after",
        "decided",
        "elapsed",
        "increases",
        "is_counter",
        "last_t",
        "last_v",
        "seen",
    )

    def __init__(self, decide_after: int = 50) -> None:
        self.decide_after = decide_after
        self.decided = False
        self.is_counter = False
        self.seen = 0
        self.increases = 0
        self.last_t = math.nan
        self.last_v = math.nan
        self.baseline = 0.0
        self.elapsed = 1.0

    def transform(self, timestamp: float, value: float) -> float | None:
        """The value to model (a rate for counters); None at the moment a counter is recognised
        (the caller should restart its models on rates)."""
        previous_t, previous_v = self.last_t, self.last_v
        self.last_t, self.last_v = timestamp, value
        if not self.decided:
            self.seen += 1
            if previous_v == previous_v:
                if value < previous_v:
                    self.decided = True  # a gauge: it went down
                    return value
                if value > previous_v:
                    self.increases += 1
            if self.seen >= self.decide_after:
                self.decided = True
                self.is_counter = self.increases >= 0.8 * (self.seen - 1)
                return None if self.is_counter else value
            return value
        if not self.is_counter:
            return value
        self.elapsed = max(timestamp - previous_t, 1.0)
        self.baseline = previous_v if value >= previous_v else 0.0  # a drop is a reset
        return (value - self.baseline) / self.elapsed
