"""Token buckets: per target and global."""

from __future__ import annotations

from datetime import datetime

from services.remediate.clock import Clock


class TokenBucket:
    """`capacity` actions at once, refilled at `per_hour` tokens an hour."""

    def __init__(self, *, capacity: float, per_hour: float, clock: Clock) -> None:
        self.capacity = capacity
        self.rate_s = per_hour / 3600.0
        self.clock = clock
        self.tokens = capacity
        self.updated: datetime = clock.now()

    def _refill(self) -> None:
        now = self.clock.now()
        elapsed = max(0.0, (now - self.updated).total_seconds())
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate_s)
        self.updated = now

    def available(self) -> bool:
        """Whether one token could be taken now."""
        self._refill()
        return self.tokens >= 1.0

    def take(self) -> bool:
        """Take one token if there is one."""
        if not self.available():
            return False
        self.tokens -= 1.0
        return True


class RateLimits:
    """One bucket per target plus one for everything; an action needs a token from both."""

    def __init__(
        self,
        *,
        per_target_burst: float,
        per_target_per_hour: float,
        global_burst: float,
        global_per_hour: float,
        clock: Clock,
    ) -> None:
        self.clock = clock
        self._target_args = (per_target_burst, per_target_per_hour)
        self.global_bucket = TokenBucket(
            capacity=global_burst, per_hour=global_per_hour, clock=clock
        )
        self.targets: dict[str, TokenBucket] = {}

    def _bucket(self, target: str) -> TokenBucket:
        bucket = self.targets.get(target)
        if bucket is None:
            burst, per_hour = self._target_args
            bucket = self.targets[target] = TokenBucket(
                capacity=burst, per_hour=per_hour, clock=self.clock
            )
        return bucket

    def refusal(self, target: str) -> str | None:
        """Why an action on `target` must wait, or None (nothing is taken)."""
        if not self._bucket(target).available():
            return f"rate limit for target {target} reached"
        if not self.global_bucket.available():
            return "global remediation rate limit reached"
        return None

    def take(self, target: str) -> None:
        """Spend a token from the target's bucket and the global one."""
        self._bucket(target).take()
        self.global_bucket.take()
