"""Replica recommendations from load forecasts (the KEDA metrics-api answer). Pure.

The recommendation covers the highest forecast load of the coming buckets, with headroom:
`ceil(peak * (1 + headroom) / target_per_replica)`, clamped to [min, max]. Scaling up
follows the forecast at once; scaling down is damped: the answer is the highest
recommendation of the forecasts within the damping window, so a dip in one forecast does not
remove replicas a later one needs again (like the HPA's scale-down stabilisation window).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ScalingPolicy:
    """How load turns into replicas."""

    target_per_replica: float  # load one replica should carry (same unit as the forecast)
    min_replicas: int = 1
    max_replicas: int = 100
    headroom: float = 0.2  # spare capacity above the forecast, as a fraction
    scale_down_window: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if not self.target_per_replica > 0:
            raise ValueError("target_per_replica must be positive")
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError("need 0 <= min_replicas <= max_replicas")
        if self.headroom < 0:
            raise ValueError("headroom must not be negative")


@dataclass(frozen=True)
class Forecast:
    """A load forecast as the api stored it: when it was made and its highest value."""

    at: datetime
    peak: float


@dataclass(frozen=True)
class Recommendation:
    """Replicas to run, and why."""

    replicas: int  # the damped answer
    undamped: int  # what the newest forecast alone asks for
    peak: float  # the newest forecast's highest load
    forecast_at: datetime


def replicas_for(load: float, policy: ScalingPolicy) -> int:
    """Replicas needed to carry `load` with the policy's headroom, clamped.

    Examples
    --------
    >>> replicas_for(250.0, ScalingPolicy(target_per_replica=50, headroom=0.2))
    6
    >>> replicas_for(0.0, ScalingPolicy(target_per_replica=50, min_replicas=2))
    2
    """
    needed = math.ceil(max(load, 0.0) * (1 + policy.headroom) / policy.target_per_replica)
    return min(max(needed, policy.min_replicas), policy.max_replicas)


def recommend(forecasts: Sequence[Forecast], policy: ScalingPolicy) -> Recommendation | None:
    """The damped recommendation from forecasts (any order); None without any."""
    if not forecasts:
        return None
    newest = max(forecasts, key=lambda f: f.at)
    since = newest.at - policy.scale_down_window
    window = [f for f in forecasts if f.at >= since]
    damped = max(replicas_for(f.peak, policy) for f in window)
    return Recommendation(damped, replicas_for(newest.peak, policy), newest.peak, newest.at)
