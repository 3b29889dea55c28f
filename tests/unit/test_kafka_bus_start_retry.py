"""A Kafka failure while Faust starts is retryable: the half-started app is stopped and
dropped, the next `start()` builds a fresh one, and the producer is made once.

Seen in the fault suite: a KRaft broker restarting while detect started refused to create
the changelog topic ("All brokers are currently fenced"); the worker died instead of waiting
for the broker. Faust and the producer are the bus's I/O, replaced here by small fakes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import InvalidReplicationFactorError

from services.core.bus.kafka import KafkaBus
from services.core.errors import RetryableError
from services.core.topics import TELEMETRY_METRICS


class FakeApp:
    def __init__(self, fail_with: Exception | None) -> None:
        self.fail_with = fail_with
        self.started = self.stopped = False

    async def start(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


class FakeProducer:
    def flush(self, timeout: float) -> None:
        pass

    def close(self, timeout: float) -> None:
        pass


class BusOnFakes(KafkaBus):
    """A KafkaBus whose Faust app fails to start while the broker is 'fenced'."""

    def __init__(self, failures: list[Exception]) -> None:
        super().__init__(["127.0.0.1:1"], client_id="t", group="g", create_topics=False)
        self.failures = failures
        self.apps: list[FakeApp] = []
        self.producers = 0

    def _make_producer(self) -> Any:
        self.producers += 1
        return FakeProducer()

    def _make_app(self) -> Any:
        app = FakeApp(self.failures.pop(0) if self.failures else None)
        self.apps.append(app)
        return app

    async def _probe_broker(self, interval_s: float = 5.0) -> None:
        await asyncio.Event().wait()

    async def _watch_stalls(self) -> None:
        await asyncio.Event().wait()


async def _handler(_event: object) -> None:
    pass


def test_a_kafka_error_while_faust_starts_is_retried_with_a_fresh_app() -> None:
    fenced = InvalidReplicationFactorError("Cannot create topic: All brokers are currently fenced")

    async def run() -> BusOnFakes:
        bus = BusOnFakes([fenced])
        bus.subscribe(TELEMETRY_METRICS, _handler, group="g")
        with pytest.raises(RetryableError, match="InvalidReplicationFactorError"):
            await bus.start()
        assert not bus.ready()
        await bus.start()  # the broker is back
        assert bus.ready()
        await bus.stop()
        return bus

    bus = asyncio.run(run())
    first, second = bus.apps
    assert first.stopped and not first.started  # the half-started app was stopped, dropped
    assert second.started and second.stopped
    assert bus.producers == 1


def test_a_programming_error_while_faust_starts_is_not_retried() -> None:
    async def run() -> None:
        bus = BusOnFakes([ValueError("a bug")])
        bus.subscribe(TELEMETRY_METRICS, _handler, group="g")
        await bus.start()

    with pytest.raises(ValueError, match="a bug"):
        asyncio.run(run())
