"""Topics every detect worker reads in full: feedback and the model control (broadcast).

The metrics worker's consumer group splits `telemetry.metrics` between workers, but operator
feedback and the detector configuration concern every worker: a label names series that may
live on any partition (and move on a rebalance), and a promotion must reach them all. So each
worker reads these topics from the beginning, outside any consumer group, and keeps what they
say in memory (`FeedbackLedger`, `ModelState`); what a series learned is checkpointed with it.

On the in-memory bus a plain subscription already is a broadcast (one process). On Kafka a
`KafkaTail` task runs a group-less aiokafka consumer (the client Faust uses) on the worker's
event loop and hands each event to its handler, one at a time, in offset order per partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from services.core.bus import Bus
from services.core.bus.base import Handler, RawMessage, decode
from services.core.errors import InvalidMessage
from services.core.topics import Topic

log = logging.getLogger(__name__)


class Broadcast:
    """Delivers every event of some topics to this process, from the beginning of each."""

    def __init__(self, subscriptions: Sequence[tuple[Topic, Handler]]) -> None:
        self.subscriptions = list(subscriptions)
        self.delivered = 0
        self.invalid = 0

    def start(self) -> None:
        """Start reading now if an event loop runs (otherwise `ready()` starts it)."""

    async def ready(self, timeout: float = 10.0) -> bool:
        """Start if needed and wait (at most `timeout`) until caught up; True if caught up."""
        del timeout
        return True

    def close(self) -> None:
        """Stop reading."""


class BusBroadcast(Broadcast):
    """The in-memory bus: one subscription per topic in a group of its own."""

    def __init__(self, bus: Bus, subscriptions: Sequence[tuple[Topic, Handler]], group: str):
        super().__init__(subscriptions)
        for topic, handler in self.subscriptions:
            bus.subscribe(topic, self._counted(handler), group=group)

    def _counted(self, handler: Handler) -> Handler:
        async def handle(event: Any) -> None:
            await handler(event)
            self.delivered += 1

        return handle


class KafkaTail(Broadcast):
    """A group-less aiokafka consumer per process, started on first use (see the module doc).

    It runs as a task on the worker's event loop, so handlers run between two points, never
    concurrently with one. A broken connection restarts the read from the beginning: the
    handlers are idempotent (feedback by id, the control message is the whole state).
    """

    def __init__(
        self,
        servers: list[str],
        subscriptions: Sequence[tuple[Topic, Handler]],
        *,
        prefix: str = "",
        client_id: str = "vigil-detect-tail",
        retry_s: float = 5.0,
        bus_ready: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(subscriptions)
        # Handlers publish on the worker's bus: reading starts once that bus has started (a
        # control message handled before would fail to publish, and be skipped).
        self.bus_ready = bus_ready
        self.servers = servers
        self.prefix = prefix
        self.client_id = client_id
        self.retry_s = retry_s
        self._by_name = {prefix + t.name: (t, h) for t, h in self.subscriptions}
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()
        # Start reading at once (when built inside the running service) rather than on the first
        # message: waiting in a Faust agent for the catch-up, right after a restart, could
        # leave the agent stalled; by the first message the topics are usually read.
        self.start()

    def start(self) -> None:
        if self._task is None:
            try:
                self._task = asyncio.get_running_loop().create_task(self._run(), name="kafka-tail")
            except RuntimeError:
                return  # no loop yet: the first `ready()` starts it

    async def ready(self, timeout: float = 10.0) -> bool:
        self.start()
        try:
            async with asyncio.timeout(timeout):
                await self._caught_up.wait()
        except TimeoutError:
            log.warning("feedback/model control not caught up after %.0fs; going on", timeout)
            return False
        return True

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while not self.bus_ready():
            await asyncio.sleep(0.1)
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a broken read must be retried, not kill detect
                log.exception("broadcast consumer failed; reading again in %.0fs", self.retry_s)
                await asyncio.sleep(self.retry_s)

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            bootstrap_servers=",".join(self.servers),
            client_id=self.client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            # Without a group, a subscription is assigned every partition of its topics.
            consumer.subscribe(list(self._by_name))
            for _ in range(100):
                if consumer.assignment():
                    break
                await asyncio.sleep(0.1)
            else:  # the topics may not exist yet (the bus creates them when it starts)
                raise RuntimeError(f"no partitions yet for {', '.join(self._by_name)}")
            partitions = list(consumer.assignment())
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self._caught_up.set()
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        await self._deliver(record)
                if pending:
                    # Positions, not record offsets: compaction leaves gaps before the end.
                    for tp in list(pending):
                        if await consumer.position(tp) >= ends[tp]:
                            pending.discard(tp)
                    if not pending:
                        self._caught_up.set()
        finally:
            await consumer.stop()

    async def _deliver(self, record: Any) -> None:
        topic, handler = self._by_name[record.topic]
        raw = RawMessage(record.topic, record.key, record.value, record.partition, record.offset)
        try:
            event = decode(topic, raw)
        except InvalidMessage as exc:
            # The topic's own consumers dead-letter it; here it is only skipped, visibly.
            self.invalid += 1
            log.warning("skipping invalid message on %s@%d: %s", raw.topic, record.offset, exc)
            return
        try:
            await handler(event)
            self.delivered += 1
        except Exception:  # noqa: BLE001 - one bad event must not stop the others
            log.exception("handling %s@%d failed", raw.topic, record.offset)
