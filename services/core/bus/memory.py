"""In-memory asyncio bus: the embedded mode's transport, and a fake for unit tests.

Messages are serialised exactly as on Kafka, so the embedded mode exercises the same codec and
dead-letter path. Each (topic, group) pair has one bounded queue: publishers wait when a
consumer falls behind (backpressure) instead of growing memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.core.bus.base import (
    BatchDispatcher,
    BatchHandler,
    Bus,
    DictStateStore,
    Dispatcher,
    Handler,
    RawMessage,
    StateStore,
    encode,
    encode_key,
)
from services.core.events import Event
from services.core.topics import Topic

log = logging.getLogger(__name__)


@dataclass
class _Subscription:
    dispatcher: Dispatcher | BatchDispatcher
    queue: asyncio.Queue[RawMessage]
    task: asyncio.Task[None] | None = None
    offset: int = field(default=0)
    max_batch: int = 1


class InMemoryBus(Bus):
    """A single-process bus over asyncio queues."""

    def __init__(self, *, queue_size: int = 10_000, keep_last: int = 1_000) -> None:
        self._queue_size = queue_size
        self._subs: dict[str, dict[str, _Subscription]] = defaultdict(dict)
        # The last messages of each topic, for inspection by tools and tests (bounded).
        self._recent: dict[str, deque[RawMessage]] = defaultdict(lambda: deque(maxlen=keep_last))
        self._offsets: dict[str, int] = defaultdict(int)
        self._started = False
        self._stores: dict[str, DictStateStore] = {}
        self._pending = 0  # deliveries queued or in progress, for drain()
        self._idle = asyncio.Event()
        self._idle.set()

    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        for event in events:
            await self._put(topic.name, encode_key(event), encode(event))

    async def publish_records(self, records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        for topic_name, key, value in records:
            await self._put(topic_name, key, value)

    async def _put(self, topic_name: str, key: bytes | None, value: bytes) -> None:
        offset = self._offsets[topic_name]
        self._offsets[topic_name] = offset + 1
        raw = RawMessage(topic_name, key, value, partition=0, offset=offset)
        self._recent[topic_name].append(raw)
        for sub in self._subs.get(topic_name, {}).values():
            self._pending += 1
            self._idle.clear()
            await sub.queue.put(raw)

    def subscribe(self, topic: Topic, handler: Handler, *, group: str) -> None:
        dispatcher = Dispatcher(topic, handler, self.send_dead_letter)
        self._add(topic, group, _Subscription(dispatcher, asyncio.Queue(self._queue_size)))

    def subscribe_batch(
        self,
        topic: Topic,
        handler: BatchHandler,
        *,
        group: str,
        max_batch: int = 500,
        max_wait_s: float = 0.05,
    ) -> None:
        # Batches form from what is already queued: no waiting, so latency stays as low as
        # with single messages, and batches grow by themselves when the consumer falls behind.
        del max_wait_s
        dispatcher = BatchDispatcher(topic, handler, self.send_dead_letter)
        queue: asyncio.Queue[RawMessage] = asyncio.Queue(self._queue_size)
        self._add(topic, group, _Subscription(dispatcher, queue, max_batch=max(1, max_batch)))

    def _add(self, topic: Topic, group: str, sub: _Subscription) -> None:
        if group in self._subs[topic.name]:
            raise ValueError(f"group {group!r} already subscribed to {topic.name}")
        self._subs[topic.name][group] = sub
        if self._started:
            sub.task = asyncio.create_task(self._consume(sub), name=f"{group}:{topic.name}")

    def state_store(self, name: str, *, partitioned_like: Topic) -> StateStore:
        store = self._stores.get(name)
        if store is None:
            store = self._stores[name] = DictStateStore()
        return store

    async def start(self) -> None:
        self._started = True
        for by_group in self._subs.values():
            for group, sub in by_group.items():
                if sub.task is None:
                    name = f"{group}:{sub.dispatcher.topic.name}"
                    sub.task = asyncio.create_task(self._consume(sub), name=name)

    async def stop(self) -> None:
        self._started = False
        tasks = [s.task for by in self._subs.values() for s in by.values() if s.task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for by_group in self._subs.values():
            for sub in by_group.values():
                sub.task = None

    async def _consume(self, sub: _Subscription) -> None:
        while True:
            batch = [await sub.queue.get()]
            while len(batch) < sub.max_batch and not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            try:
                if isinstance(sub.dispatcher, BatchDispatcher):
                    await sub.dispatcher.dispatch(batch)
                else:
                    await sub.dispatcher.dispatch(batch[0])
            finally:
                for _ in batch:
                    sub.queue.task_done()
                self._pending -= len(batch)
                if self._pending == 0:
                    self._idle.set()

    def consumers(self) -> list[tuple[str, Dispatcher | BatchDispatcher]]:
        return [(g, sub.dispatcher) for by in self._subs.values() for g, sub in by.items()]

    def consumer_lag(self) -> dict[tuple[str, str], int]:
        return {(t, g): sub.queue.qsize() for t, by in self._subs.items() for g, sub in by.items()}

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Wait until every delivery is handled, including work that handlers publish."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    def recent(self, topic_name: str) -> list[RawMessage]:
        """The last messages published to a topic (bounded), oldest first."""
        return list(self._recent.get(topic_name, ()))
