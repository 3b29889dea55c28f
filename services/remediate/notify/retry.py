"""When to try a delivery again, and how long to wait: pure, with an injected clock and sleeper.

5xx and 429 are retryable and a `Retry-After` (seconds or an HTTP-date) is honoured; other
4xx are permanent; network errors are retryable. Waits grow exponentially with full jitter
(AWS "Exponential Backoff And Jitter"), so receivers coming back from an outage are not hit by
every sender at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from services.remediate.notify.base import DeliveryOutcome

Sleeper = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def classify_status(
    status: int, *, retry_after: str | None, now: datetime, body: str = "", ref: str = ""
) -> DeliveryOutcome:
    """The outcome of an HTTP response: 2xx delivered, 5xx/429 transient, other 4xx permanent."""
    if 200 <= status < 300:
        return DeliveryOutcome.delivered(ref)
    error = f"HTTP {status}: {body[:300]}".rstrip(": ")
    if status == 429 or status >= 500:
        return DeliveryOutcome.transient(error, parse_retry_after(retry_after, now))
    return DeliveryOutcome.permanent(error)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by one wait's length."""

    max_attempts: int = 8
    base_s: float = 1.0
    max_delay_s: float = 60.0
    # A receiver asking for more than this is waited for this long only.
    max_retry_after_s: float = 300.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        ceiling = min(self.max_delay_s, self.base_s * (2 ** min(attempt - 1, 30)))
        return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Attempts:
    """The last outcome of a delivery and how many attempts it took."""

    outcome: DeliveryOutcome
    attempts: int
    retries: int


async def deliver_with_retries(
    send: Callable[[], Awaitable[DeliveryOutcome]],
    policy: RetryPolicy,
    *,
    sleep: Sleeper = asyncio.sleep,
    rng: random.Random | None = None,
) -> Attempts:
    """Call `send` until it succeeds, fails permanently, or attempts run out."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        outcome = await send()
        if outcome.ok or not outcome.retryable or attempt >= policy.max_attempts:
            return Attempts(outcome, attempt, attempt - 1)
        await sleep(policy.delay(attempt, rng, outcome.retry_after))
