"""Batched telemetry messages: grouped by the partition each key hashes to, unpacked on consume."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import DefaultPartitioner

from services.core.bus import InMemoryBus
from services.core.bus.base import Dispatcher, RawMessage, decode_all, encode, encode_batch
from services.core.bus.kafka import KafkaBus
from services.core.bus.partitioning import KeyPartitioner, partition_for
from services.core.errors import InvalidMessage
from services.core.events import Event, MetricPoint
from services.core.topics import ANOMALIES, TELEMETRY_METRICS


class _Cluster:
    """Just enough ClusterMetadata for kafka-python's DefaultPartitioner."""

    def __init__(self, partitions: int) -> None:
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=80), st.integers(1, 64))
def test_partition_is_the_default_partitioners(key: bytes, partitions: int) -> None:
    expected = DefaultPartitioner().partition("t", key, key, None, None, _Cluster(partitions))
    assert partition_for(key, partitions) == expected
    cache = KeyPartitioner(max_keys=2)
    assert cache.partition(key, partitions) == cache.partition(key, partitions) == expected


def _point(i: int, service: str = "api") -> MetricPoint:
    return MetricPoint(
        name="cpu", labels={"service": service, "i": str(i)}, value=i, timestamp=datetime.now(UTC)
    )


def test_a_batched_message_decodes_to_its_events() -> None:
    points = [_point(i) for i in range(3)]
    raw = RawMessage("telemetry.metrics", b"k", encode_batch(TELEMETRY_METRICS, points))
    assert decode_all(TELEMETRY_METRICS, raw) == points
    single = RawMessage("telemetry.metrics", b"k", encode(points[0]))
    assert decode_all(TELEMETRY_METRICS, single) == [points[0]]
    with pytest.raises(InvalidMessage, match="batch of MetricPoint"):
        decode_all(TELEMETRY_METRICS, RawMessage("telemetry.metrics", b"k", b'[{"name": 1}]'))
    with pytest.raises(InvalidMessage):  # only batched topics accept arrays
        decode_all(ANOMALIES, RawMessage("anomalies", b"k", b"[]"))


def test_one_bad_event_of_a_batch_is_dead_lettered_alone() -> None:
    seen: list[float] = []
    letters: list[tuple[str, str]] = []

    async def handle(event: Event) -> None:
        assert isinstance(event, MetricPoint)
        if event.value == 1:
            raise ValueError("no ones")
        seen.append(event.value)

    async def dead_letter(topic: str, letter: object) -> None:
        letters.append((topic, letter.payload))  # type: ignore[attr-defined]

    dispatcher = Dispatcher(TELEMETRY_METRICS, handle, dead_letter)
    value = encode_batch(TELEMETRY_METRICS, [_point(0), _point(1), _point(2)])
    asyncio.run(dispatcher.dispatch(RawMessage("telemetry.metrics", b"k", value, 3, 7)))
    assert seen == [0, 2]
    [(topic, payload)] = letters
    assert topic == "telemetry.metrics.dlq" and json.loads(payload)["value"] == 1


def test_kafka_bus_groups_events_by_partition_in_bounded_chunks() -> None:
    bus = KafkaBus(["unused:9092"], client_id="t", batch_max_events=4, batch_max_bytes=1500)
    bus._partition_counts["telemetry.metrics"] = 12
    points = [_point(i, service=f"s{i % 5}") for i in range(40)]
    keys = [p.partition_key() for p in points]
    records = asyncio.run(bus._batched(TELEMETRY_METRICS, "telemetry.metrics", points, keys))
    carried = []
    for topic, key, value, partition in records:
        assert topic == "telemetry.metrics"
        assert len(value) <= 1500 or not value.startswith(b"[")  # a lone event may be larger
        events = decode_all(TELEMETRY_METRICS, RawMessage(topic, key, value))
        assert 1 <= len(events) <= 4
        assert all(partition_for(e.partition_key().encode(), 12) == partition for e in events)
        assert key is not None and partition_for(key, 12) == partition
        carried.extend(events)
    assert sorted(p.id for p in carried) == sorted(p.id for p in points)


def test_in_memory_bus_consumers_still_see_one_event_at_a_time() -> None:
    async def scenario() -> list[float]:
        bus = InMemoryBus()
        seen: list[float] = []

        async def handle(event: Event) -> None:
            assert isinstance(event, MetricPoint)
            seen.append(event.value)

        bus.subscribe(TELEMETRY_METRICS, handle, group="g")
        await bus.start()
        value = encode_batch(TELEMETRY_METRICS, [_point(5), _point(6)])
        await bus.publish_raw(TELEMETRY_METRICS.name, b"k", value)
        await bus.drain()
        await bus.stop()
        return seen

    assert asyncio.run(scenario()) == [5, 6]
