"""A worker whose table recovery stopped making progress restarts its Kafka consumer.

Faust's recovery sometimes waits for changelog messages that never come, and the worker then
handles nothing until restarted (docs/operations.md, "Known issues"). Faust is the bus's I/O,
replaced here by small fakes; the decision itself is `RecoveryWatch`.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from services.core.bus.kafka import KafkaBus
from services.core.bus.stall import RecoveryWatch
from services.core.topics import TELEMETRY_METRICS


def test_a_recovery_without_progress_is_stuck_and_one_still_reading_is_not() -> None:
    watch = RecoveryWatch(stuck_after_s=60)
    assert not watch.observe(0, in_recovery=True, remaining=500)
    assert not watch.observe(59, in_recovery=True, remaining=500)
    assert watch.observe(60, in_recovery=True, remaining=500)
    assert not watch.observe(61, in_recovery=True, remaining=500)  # judged afresh
    # Progress (a large changelog being read) resets the clock each time.
    for t, left in [(200, 400), (250, 300), (300, 200), (350, 100)]:
        assert not watch.observe(t, in_recovery=True, remaining=left)
    assert not watch.observe(400, in_recovery=False, remaining=0)
    assert not watch.observe(1000, in_recovery=False, remaining=0)


class FakeRecovery:
    def __init__(self, stuck: bool) -> None:
        self.in_recovery = stuck

    def active_remaining_total(self) -> int:
        return 7 if self.in_recovery else 0


class FakeApp:
    def __init__(self, stuck: bool) -> None:
        self.tables = SimpleNamespace(recovery=FakeRecovery(stuck))
        self.consumer = SimpleNamespace(
            assignment=lambda: set(), _committed_offset={}, highwater=lambda tp: 0
        )
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


class BusOnFakes(KafkaBus):
    """A KafkaBus whose first Faust app gets stuck in recovery; the next ones do not."""

    def __init__(self) -> None:
        super().__init__(
            ["127.0.0.1:1"],
            client_id="t",
            group="g",
            create_topics=False,
            recovery_stuck_after_s=0.2,
        )
        self.apps: list[FakeApp] = []

    def _make_producer(self) -> Any:
        return SimpleNamespace(flush=lambda timeout: None, close=lambda timeout: None)

    def _make_app(self) -> Any:
        app = FakeApp(stuck=not self.apps)
        self.apps.append(app)
        return app

    async def _probe_broker(self, interval_s: float = 5.0) -> None:
        await asyncio.Event().wait()


async def _handler(_event: object) -> None:
    pass


def test_the_bus_replaces_a_faust_app_stuck_in_recovery_and_drops_partition_state() -> None:
    revoked: list[str] = []

    async def run() -> BusOnFakes:
        bus = BusOnFakes()
        bus.subscribe(TELEMETRY_METRICS, _handler, group="g")
        bus.on_partitions_revoked(lambda: revoked.append("forget"))
        await bus.start()
        for _ in range(60):
            if len(bus.apps) > 1:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # the fresh app recovers: no second restart
        await bus.stop()
        return bus

    bus = asyncio.run(run())
    assert len(bus.apps) == 2  # one restart
    stuck, fresh = bus.apps
    assert stuck.stopped and fresh.started
    assert revoked == ["forget"]
