"""Flapping detection and the quiet period before an incident resolves. Pure functions.

A flip is the incident changing between "something fires" and "nothing fires". An incident
that flips `flap_threshold` times within `flap_window` is flapping. When its last signal
recovers, an incident resolves after `quiet_period` (at once when zero), or after
`flap_quiet_period` if it is flapping; a firing signal meanwhile cancels the wait without any
resolved/reopened pair, which is what keeps a flapping signal from notifying again and again.
The periodic sweep asks `due()` with the wall clock; tests pass a fake one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class QuietPolicy:
    quiet_period: timedelta = timedelta(0)
    flap_window: timedelta = timedelta(minutes=10)
    flap_threshold: int = 4
    flap_quiet_period: timedelta = timedelta(minutes=10)


def record_flip(
    flips: Sequence[datetime], at: datetime, policy: QuietPolicy
) -> tuple[datetime, ...]:
    """The flips still inside the window at `at`, plus this one (bounded by the threshold)."""
    recent = [f for f in flips if at - f <= policy.flap_window]
    recent.append(at)
    return tuple(sorted(recent)[-max(1, policy.flap_threshold) :])


def is_flapping(flips: Sequence[datetime], at: datetime, policy: QuietPolicy) -> bool:
    """Whether enough flips happened within the window ending at `at`.

    Examples
    --------
    >>> from datetime import datetime, timedelta, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> is_flapping([t + timedelta(minutes=m) for m in range(4)], t + timedelta(minutes=3),
    ...             QuietPolicy(flap_threshold=4))
    True
    """
    return sum(1 for f in flips if at - f <= policy.flap_window) >= policy.flap_threshold


def hold(flapping: bool, policy: QuietPolicy) -> timedelta:
    """How long a recovered incident waits, without new firing signals, before it resolves."""
    if flapping:
        return max(policy.quiet_period, policy.flap_quiet_period)
    return policy.quiet_period


def due(recovered_at: datetime | None, flapping: bool, now: datetime, policy: QuietPolicy) -> bool:
    """Whether a recovered incident has been quiet long enough to resolve."""
    return recovered_at is not None and now - recovered_at >= hold(flapping, policy)
