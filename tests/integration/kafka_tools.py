"""Helpers to look inside Kafka from tests: read a topic, count messages, check group lag."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def read_all(bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> list[Any]:
    """Every message currently in `topic` (all partitions), read without a consumer group."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        messages: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topic: str) -> int | None:
    """Messages of `topic` not yet committed by `group` (None if the group committed nothing)."""
    # A consumer that never subscribes only reads the group's committed offsets; it does not join.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        end = consumer.end_offsets(tps)
        committed = {tp: consumer.committed(tp) for tp in tps}
        if all(offset is None for offset in committed.values()):
            return None
        return sum(end[tp] - (committed[tp] or 0) for tp in tps)
    finally:
        consumer.close()


def wait_for(predicate: Any, *, timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    """Poll until predicate() is truthy; raise with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")


async def wait_until(
    predicate: Any, *, timeout_s: float, what: str, interval_s: float = 0.5
) -> None:
    """`wait_for` for an async predicate, awaited on the caller's event loop."""
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(interval_s)
