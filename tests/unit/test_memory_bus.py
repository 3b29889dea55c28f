from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from services.core.bus import InMemoryBus
from services.core.errors import RetryableError
from services.core.events import Event, MetricPoint
from services.core.topics import TELEMETRY_METRICS


def _point(value: float) -> MetricPoint:
    return MetricPoint(
        name="cpu", labels={"service": "a"}, value=value, timestamp=datetime.now(UTC)
    )


def test_poison_message_goes_to_dlq_with_reason_and_consumer_carries_on() -> None:
    async def scenario() -> tuple[list[float], list[dict[str, object]]]:
        bus = InMemoryBus()
        seen: list[float] = []

        async def handle(event: Event) -> None:
            assert isinstance(event, MetricPoint)
            seen.append(event.value)

        bus.subscribe(TELEMETRY_METRICS, handle, group="g")
        await bus.start()
        await bus.publish(TELEMETRY_METRICS, [_point(1)])
        await bus.publish_raw(TELEMETRY_METRICS.name, b"k", b"\xff not json")
        await bus.publish_raw(TELEMETRY_METRICS.name, b"k", b'{"name": "cpu"}')
        await bus.publish(TELEMETRY_METRICS, [_point(2)])
        await bus.drain()
        await bus.stop()
        letters = [json.loads(m.value) for m in bus.recent(TELEMETRY_METRICS.dlq)]
        return seen, letters

    seen, letters = asyncio.run(scenario())
    assert seen == [1, 2]
    assert len(letters) == 2
    assert letters[0]["topic"] == "telemetry.metrics"
    assert letters[0]["payload"].startswith("base64:")
    assert "not a valid MetricPoint" in letters[0]["reason"]
    assert "value: Field required" in letters[1]["reason"]
    assert letters[1]["payload"] == '{"name": "cpu"}'


def test_transient_failures_are_retried_not_dead_lettered() -> None:
    async def scenario() -> tuple[int, int]:
        bus = InMemoryBus()
        attempts = 0

        async def flaky(event: Event) -> None:
            nonlocal attempts
            attempts += 1
            if attempts < 3:
                raise RetryableError("database restarting")

        bus.subscribe(TELEMETRY_METRICS, flaky, group="g")
        await bus.start()
        # Speed the backoff up for the test.
        for sub in bus._subs[TELEMETRY_METRICS.name].values():
            sub.dispatcher.retry.initial_s = 0.001
        await bus.publish(TELEMETRY_METRICS, [_point(1)])
        await bus.drain()
        await bus.stop()
        return attempts, len(bus.recent(TELEMETRY_METRICS.dlq))

    attempts, dead = asyncio.run(scenario())
    assert attempts == 3
    assert dead == 0


def test_handler_bug_dead_letters_the_message_and_keeps_consuming() -> None:
    async def scenario() -> tuple[list[float], list[dict[str, object]]]:
        bus = InMemoryBus()
        seen: list[float] = []

        async def handle(event: Event) -> None:
            assert isinstance(event, MetricPoint)
            if event.value < 0:
                raise ValueError("negative values are not expected")
            seen.append(event.value)

        bus.subscribe(TELEMETRY_METRICS, handle, group="g")
        await bus.start()
        await bus.publish(TELEMETRY_METRICS, [_point(-1), _point(3)])
        await bus.drain()
        await bus.stop()
        return seen, [json.loads(m.value) for m in bus.recent(TELEMETRY_METRICS.dlq)]

    seen, letters = asyncio.run(scenario())
    assert seen == [3]
    assert len(letters) == 1
    assert "ValueError: negative values are not expected" in letters[0]["reason"]


def test_every_group_gets_every_message() -> None:
    async def scenario() -> tuple[int, int]:
        bus = InMemoryBus()
        counts = {"a": 0, "b": 0}

        def counter(group: str):  # type: ignore[no-untyped-def]
            async def handle(event: Event) -> None:
                counts[group] += 1

            return handle

        bus.subscribe(TELEMETRY_METRICS, counter("a"), group="a")
        bus.subscribe(TELEMETRY_METRICS, counter("b"), group="b")
        await bus.start()
        await bus.publish(TELEMETRY_METRICS, [_point(1), _point(2)])
        await bus.drain()
        await bus.stop()
        return counts["a"], counts["b"]

    assert asyncio.run(scenario()) == (2, 2)
