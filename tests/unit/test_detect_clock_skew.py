"""Clock skew policy of the metrics worker: far-future points are skipped, not learned."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.core.bus import InMemoryBus
from services.core.bus.base import DictStateStore
from services.core.events import MetricPoint
from services.detect.monitor import MetricsMonitor
from services.detect.worker import MAX_FUTURE_SKEW, MetricsWorker

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _point(at: datetime, value: float = 1.0) -> MetricPoint:
    return MetricPoint(name="latency", labels={"service": "a"}, value=value, timestamp=at)


def test_a_point_from_a_clock_far_ahead_does_not_move_its_series_forward() -> None:
    monitor = MetricsMonitor()
    worker = MetricsWorker(monitor, InMemoryBus(), DictStateStore(), clock=lambda: NOW)

    async def feed() -> None:
        await worker.handle(_point(NOW - timedelta(minutes=2)))
        await worker.handle(_point(datetime(2100, 1, 1, tzinfo=UTC), 10_000))
        await worker.handle(_point(NOW - timedelta(minutes=1)))  # not "late" after the skew
        await worker.handle(_point(NOW + MAX_FUTURE_SKEW - timedelta(minutes=1)))  # drift: fine

    asyncio.run(feed())
    (state,) = monitor.series.values()
    assert worker.skewed == 1
    assert monitor.out_of_order == 0
    assert state.points == 3
    assert state.last_timestamp == (NOW + MAX_FUTURE_SKEW - timedelta(minutes=1)).timestamp()


def test_a_point_from_a_clock_far_behind_is_late_and_skipped() -> None:
    monitor = MetricsMonitor()
    worker = MetricsWorker(monitor, InMemoryBus(), DictStateStore(), clock=lambda: NOW)

    async def feed() -> None:
        await worker.handle(_point(NOW - timedelta(minutes=2)))
        await worker.handle(_point(datetime(1971, 1, 1, tzinfo=UTC), 10_000))
        await worker.handle(_point(NOW - timedelta(minutes=1)))

    asyncio.run(feed())
    (state,) = monitor.series.values()
    assert monitor.out_of_order == 1 and worker.skewed == 0
    assert state.points == 2
