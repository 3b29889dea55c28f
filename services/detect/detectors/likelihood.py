"""Turning raw surprise into calibrated evidence: anomaly likelihood and records.

`AnomalyLikelihood` is the post-processing Numenta uses for HTM in NAB, made O(1): it compares
a short average of the raw surprise with the long-run distribution of that average, and reports
the Gaussian tail probability as a score in [0, 1] (`-log10(p) / 10`, so 0.5 means p = 1e-5).
A series that is always a bit surprising is thereby judged against itself, which is what lets
one threshold serve every series.

`Record` answers a complementary question: is the current surprise larger than anything seen
in a long memory? The largest event of a series' history so far is worth reporting even when a
heavy tail makes the Gaussian tail probability unremarkable.
"""

from __future__ import annotations

import math

LOG10_P_FLOOR = 10.0  # p = 1e-10 maps to a score of 1
SQRT2 = math.sqrt(2.0)


def tail_score(q: float) -> float:
    """Score in [0, 1] of a standard-normal deviate: -log10 of its upper tail over 10.

    Examples
    --------
    >>> tail_score(0.0), round(tail_score(4.265), 2), tail_score(8.0)
    (0.0, 0.5, 1.0)
    """
    if q <= 0.0:
        return 0.0
    p = 0.5 * math.erfc(q / SQRT2)
    if p <= 10.0**-LOG10_P_FLOOR:
        return 1.0
    return -math.log10(p) / LOG10_P_FLOOR


class AnomalyLikelihood:
    """Gaussian tail of a short average of raw scores against its long-run mean and spread.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(0)
    >>> lik = AnomalyLikelihood(short_rate=0.1, long_rate=0.002)
    >>> scores = [lik.update(abs(rng.gauss(0, 1))) for _ in range(3000)]
    >>> max(scores[100:]) < 0.8, lik.update(40.0) > 0.9  # after a warm-up, noise is unremarkable
    (True, True)
    """

    __slots__ = ("long_rate", "mean", "min_spread", "n", "short", "short_rate", "var")

    def __init__(self, short_rate: float, long_rate: float, min_spread: float = 1e-3) -> None:
        self.short_rate = short_rate
        self.long_rate = long_rate
        self.min_spread = min_spread  # a series that is never surprised is not infinitely sure
        self.short = 0.0
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def update(self, raw: float) -> float:
        """Score the new raw value's short average, then learn it."""
        self.n += 1
        self.short += self.short_rate * (raw - self.short)
        deviation = self.short - self.mean
        q = deviation / (math.sqrt(self.var) + self.min_spread)
        rate = max(self.long_rate, 1.0 / self.n)
        self.mean += rate * deviation
        self.var += rate * (deviation * deviation - self.var)
        return tail_score(q)


class Record:
    """Is a signal above everything in a slowly fading memory of its own maxima?

    `update` returns the log-ratio by which the signal exceeds the remembered maximum beyond
    the tolerance (positive means a record), then remembers it.

    Examples
    --------
    >>> rec = Record(tolerance=0.1, decay=0.0, start=0)
    >>> [round(rec.update(v), 3) for v in (1.0, 1.05, 2.0)]
    [-1.0, -0.047, 0.549]
    """

    __slots__ = ("decay", "floor", "log_tolerance", "maximum", "n", "start")

    def __init__(self, tolerance: float, decay: float, start: int = 20, floor: float = 0.0) -> None:
        self.log_tolerance = math.log1p(tolerance)
        self.decay = decay
        self.start = start
        self.floor = floor  # signals below this are never records, however small the past
        self.maximum = 0.0
        self.n = 0

    def update(self, signal: float) -> float:
        """Log-ratio beyond the remembered maximum (minus tolerance); -1 when undefined."""
        self.n += 1
        excess = -1.0
        if self.maximum > 0.0 and signal > self.floor:
            excess = math.log(signal / self.maximum) - self.log_tolerance
        if self.n > self.start:
            faded = self.maximum * (1.0 - self.decay)
            self.maximum = signal if signal > faded else faded
        return excess
