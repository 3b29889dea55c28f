"""Retry policy: which failures are retried, how long to wait, when to give up."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.remediate.notify.base import DeliveryOutcome
from services.remediate.notify.retry import (
    RetryPolicy,
    classify_status,
    deliver_with_retries,
    parse_retry_after,
)

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)


class FakeSleeper:
    """Records waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_retry_after_in_seconds_or_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Fri, 27 Nov 2026 03:00:30 GMT", NOW) == 30
    assert parse_retry_after("Fri, 27 Nov 2026 02:00:00 GMT", NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_5xx_and_429_are_retryable_other_4xx_are_permanent() -> None:
    def outcome(status: int, retry_after: str | None = None) -> DeliveryOutcome:
        return classify_status(status, retry_after=retry_after, now=NOW)

    assert outcome(200).ok and outcome(202).ok
    assert outcome(500).retryable and outcome(503).retryable
    assert outcome(429, "3").retryable and outcome(429, "3").retry_after == 3
    for status in (400, 401, 403, 404, 410, 413, 422):
        assert not outcome(status).retryable and not outcome(status).ok


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_s=1, max_delay_s=20)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 20), (30, 20)]:
        waits = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # jitter spans the whole range
    assert policy.delay(1, rng, retry_after=42) == 42
    assert RetryPolicy(max_retry_after_s=60).delay(1, rng, retry_after=3600) == 60


def _scripted(
    *outcomes: DeliveryOutcome,
) -> tuple[list[int], Callable[[], Awaitable[DeliveryOutcome]]]:
    calls: list[int] = []
    queue = list(outcomes)

    async def send() -> DeliveryOutcome:
        calls.append(1)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return calls, send


def test_transient_failures_are_retried_until_delivered_honouring_retry_after() -> None:
    sleeper = FakeSleeper()
    calls, send = _scripted(
        DeliveryOutcome.transient("HTTP 503"),
        DeliveryOutcome.transient("HTTP 429", retry_after=9),
        DeliveryOutcome.delivered("ref"),
    )
    result = asyncio.run(
        deliver_with_retries(send, RetryPolicy(base_s=1), sleep=sleeper, rng=random.Random(1))
    )
    assert result.outcome.provider_ref == "ref"
    assert (result.attempts, result.retries, len(calls)) == (3, 2, 3)
    assert 0 <= sleeper.waits[0] <= 1 and sleeper.waits[1] == 9


def test_permanent_failure_stops_at_once() -> None:
    sleeper = FakeSleeper()
    calls, send = _scripted(DeliveryOutcome.permanent("HTTP 400"))
    result = asyncio.run(deliver_with_retries(send, RetryPolicy(), sleep=sleeper))
    assert (result.attempts, len(calls), sleeper.waits) == (1, 1, [])
    assert result.outcome.error == "HTTP 400"


def test_gives_up_after_max_attempts() -> None:
    sleeper = FakeSleeper()
    calls, send = _scripted(DeliveryOutcome.transient("HTTP 502"))
    result = asyncio.run(deliver_with_retries(send, RetryPolicy(max_attempts=4), sleep=sleeper))
    assert (result.attempts, len(calls), len(sleeper.waits)) == (4, 4, 3)
    assert not result.outcome.ok and result.outcome.retryable
