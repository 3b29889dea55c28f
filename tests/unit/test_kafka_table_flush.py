"""The Kafka bus's table flush waits until every queued changelog write is sent."""

from __future__ import annotations

import asyncio

from services.core.bus.kafka import _drain_fully_on_flush


class GivingUpBuffer:
    """Faust's producer buffer as it behaves on a busy machine.

    `flush_atmost` sends what it can and returns as soon as one send takes longer than its
    patience, leaving the rest queued, as Faust's own does after 0.1 s without progress.
    """

    def __init__(self, queued: int) -> None:
        self.queued = queued
        self.calls = 0

    @property
    def size(self) -> int:
        return self.queued

    async def flush_atmost(self, max_messages: int | None) -> int:
        self.calls += 1
        await asyncio.sleep(0)
        self.queued -= 1  # one send completed, then the next one was too slow
        return 1

    async def flush(self) -> None:
        await self.flush_atmost(None)


def test_flush_returns_only_once_the_buffer_is_empty() -> None:
    buffer = GivingUpBuffer(queued=5)
    _drain_fully_on_flush(buffer)
    asyncio.run(buffer.flush())
    assert buffer.size == 0
    assert buffer.calls == 5


def test_flush_of_an_empty_buffer_returns_at_once() -> None:
    buffer = GivingUpBuffer(queued=0)
    _drain_fully_on_flush(buffer)
    asyncio.run(buffer.flush())
    assert buffer.calls == 0
