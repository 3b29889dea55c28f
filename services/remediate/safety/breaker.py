"""A circuit breaker that stops automation after repeated failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from services.remediate.clock import Clock


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; lets one trial through after `cool_down`.

    A success in half-open closes it; a failure there opens it again for another cool-down.
    `opened_now` tells the caller to page a human (once per opening).
    """

    def __init__(self, *, threshold: int, cool_down: timedelta, clock: Clock) -> None:
        self.threshold = threshold
        self.cool_down = cool_down
        self.clock = clock
        self.failures = 0
        self.opened_at: datetime | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """Closed, open, or half-open (cool-down over, one trial allowed)."""
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock.now() - self.opened_at >= self.cool_down:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether an action may run now (in half-open, only one at a time)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """An action succeeded: close the breaker."""
        self.failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> bool:
        """An action failed; True when this failure opened the breaker (page someone)."""
        self.failures += 1
        was_half_open = self._trial_in_flight
        self._trial_in_flight = False
        if was_half_open or (self.opened_at is None and self.failures >= self.threshold):
            self.opened_at = self.clock.now()
            return True
        return False
