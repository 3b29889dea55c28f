"""The Kafka adapter against a real broker: delivery, dead letters, keys."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from services.core.bus.kafka import KafkaBus
from services.core.events import Event, MetricPoint
from services.core.topics import TELEMETRY_METRICS
from tests.integration.kafka_tools import read_all


def _point(value: float, service: str = "api") -> MetricPoint:
    return MetricPoint(
        name="cpu", labels={"service": service}, value=value, timestamp=datetime.now(UTC)
    )


def test_poison_message_lands_in_dlq_and_the_consumer_carries_on(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    async def scenario() -> list[float]:
        producer = KafkaBus([kafka_bootstrap], client_id="t-producer", topic_prefix=topic_prefix)
        consumer = KafkaBus([kafka_bootstrap], client_id="t-consumer", topic_prefix=topic_prefix)
        seen: list[float] = []

        async def handle(event: Event) -> None:
            assert isinstance(event, MetricPoint)
            seen.append(event.value)

        consumer.subscribe(TELEMETRY_METRICS, handle, group="bus-test")
        await producer.start()
        await consumer.start()
        try:
            await producer.publish(TELEMETRY_METRICS, [_point(1)])
            await producer.publish_raw(TELEMETRY_METRICS.name, b"default/cpu", b"{not json")
            await producer.publish(TELEMETRY_METRICS, [_point(2)])
            async with asyncio.timeout(90):
                while len(seen) < 2:
                    await asyncio.sleep(0.2)
        finally:
            await consumer.stop()
            await producer.stop()
        return seen

    seen = asyncio.run(scenario())
    assert sorted(seen) == [1, 2]
    letters = [
        json.loads(m.value)
        for m in read_all(kafka_bootstrap, f"{topic_prefix}telemetry.metrics.dlq")
    ]
    assert len(letters) == 1
    assert letters[0]["payload"] == "{not json"
    assert letters[0]["topic"] == "telemetry.metrics"
    assert "not a valid MetricPoint" in letters[0]["reason"]
    assert letters[0]["offset"] is not None


def test_events_of_one_series_share_a_partition(kafka_bootstrap: str, topic_prefix: str) -> None:
    async def scenario() -> None:
        bus = KafkaBus([kafka_bootstrap], client_id="t-keys", topic_prefix=topic_prefix)
        await bus.start()
        try:
            points = [_point(i, service=f"s{i % 4}") for i in range(40)]
            await bus.publish(TELEMETRY_METRICS, points)
        finally:
            await bus.stop()

    asyncio.run(scenario())
    messages = read_all(kafka_bootstrap, f"{topic_prefix}telemetry.metrics")
    assert len(messages) == 40
    partitions_by_key: dict[bytes, set[int]] = {}
    for m in messages:
        partitions_by_key.setdefault(m.key, set()).add(m.partition)
    assert len(partitions_by_key) == 4
    assert all(len(p) == 1 for p in partitions_by_key.values())
