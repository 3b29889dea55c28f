"""Is this window's count unusual? An online baseline of counts per time window. Pure domain.

`RateBaseline` learns the mean and spread of a count per window (exponentially weighted) and
judges each closed window against them with a Poisson-aware z score, so that a template seen
twice a minute is not alarming at five and one seen 500 times a window is not alarming at 540.
Drops are judged on the Poisson lower tail as well (a z score understates how unlikely zero is
when ten are expected). A shift must last `fire_after` windows to fire and be gone for
`resolve_after` to resolve; while firing, the baseline learns only slowly, so a sustained
shift stays visible, yet a new normal is eventually accepted.

Examples
--------
>>> policy = RatePolicy(min_windows=5)
>>> rate = RateBaseline()
>>> [rate.judge(10, policy).transition for _ in range(6)]
[None, None, None, None, None, None]
>>> [rate.judge(80, policy).transition for _ in range(2)]
[None, 'firing']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RatePolicy:
    """When a count per window counts as shifted."""

    alpha: float = 0.05  # baseline learning rate per window (~20 windows of memory)
    frozen_alpha: float = 0.002  # learning rate while firing: a new normal wins, slowly
    min_windows: int = 18  # windows of history before anything is judged
    z: float = 5.0  # z score of a shifted window
    up: bool = True  # judge rises
    up_factor: float = 2.0  # and at least this many times the mean (upward shifts)
    min_excess: float = 5.0  # and at least this many more than the mean
    down: bool = True  # judge drops too
    down_factor: float = 0.25  # a drop leaves at most this share of the mean
    down_min_mean: float = 10.0  # drops are judged only for counts this high
    down_p: float = 1e-3  # ... and shifted when this improbable for a Poisson count
    fire_after: int = 2  # consecutive shifted windows before firing
    resolve_after: int = 3  # consecutive normal windows before resolving


@dataclass(frozen=True)
class Verdict:
    """The judgement of one window."""

    shifted: bool
    z: float
    expected: float
    lower: float
    upper: float
    transition: str | None = None  # "firing", "resolved" or None


class RateBaseline:
    """Mean and variance of a count per window, and the firing state of its shifts."""

    __slots__ = ("firing", "mean", "streak", "var", "windows")

    def __init__(self) -> None:
        self.mean = 0.0
        self.var = 0.0
        self.windows = 0
        self.streak = 0  # consecutive windows disagreeing with the firing state
        self.firing = False

    def judge(self, count: float, policy: RatePolicy) -> Verdict:
        """Judge one closed window's count, then learn from it."""
        mean = self.mean
        spread = math.sqrt(max(self.var, mean) + 1.0)
        z = (count - mean) / spread
        warm = self.windows >= policy.min_windows
        up = (
            policy.up
            and z >= policy.z
            and count >= policy.up_factor * mean
            and count - mean >= policy.min_excess
        )
        down = (
            policy.down
            and mean >= policy.down_min_mean
            and count <= policy.down_factor * mean
            and (z <= -policy.z or _poisson_low(count, mean, self.var) <= policy.down_p)
        )
        shifted = warm and (up or down)
        transition = self._transition(shifted, policy)
        alpha = policy.frozen_alpha if (shifted or self.firing) else policy.alpha
        if self.windows < policy.min_windows:
            alpha = max(alpha, 1.0 / (self.windows + 1))  # plain average while warming up
        delta = count - mean
        self.mean = mean + alpha * delta
        self.var = (1 - alpha) * (self.var + alpha * delta * delta)
        self.windows += 1
        band = policy.z * spread
        return Verdict(shifted, z, mean, max(0.0, mean - band), mean + band, transition)

    def _transition(self, shifted: bool, policy: RatePolicy) -> str | None:
        if shifted == self.firing:
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < (policy.resolve_after if self.firing else policy.fire_after):
            return None
        self.firing, self.streak = not self.firing, 0
        return "firing" if self.firing else "resolved"

    def to_list(self) -> list[Any]:
        """Plain data for a checkpoint."""
        return [self.mean, self.var, self.windows, self.streak, self.firing]

    @classmethod
    def from_list(cls, data: list[Any]) -> RateBaseline:
        """Rebuild from `to_list()` output."""
        rate = cls()
        rate.mean, rate.var, rate.windows, rate.streak, rate.firing = (
            float(data[0]),
            float(data[1]),
            int(data[2]),
            int(data[3]),
            bool(data[4]),
        )
        return rate


def _poisson_low(count: float, mean: float, var: float) -> float:
    """P(X <= count) for a Poisson count, its rate shrunk when the counts are overdispersed."""
    rate = mean * min(1.0, mean / var) if var > 0 else mean
    k = int(count)
    term = total = math.exp(-rate)
    for i in range(1, k + 1):
        term *= rate / i
        total += term
    return total
