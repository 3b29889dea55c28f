"""Batched consumption: batches form under load, a bad message is isolated, retries wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.core.bus import InMemoryBus
from services.core.bus.base import BatchDispatcher, RawMessage, RetryPolicy, encode
from services.core.errors import RetryableError
from services.core.events import Anomaly, DeadLetter, Event
from services.core.topics import ANOMALIES
from tests.factories import anomaly


def test_in_memory_bus_hands_queued_messages_over_in_batches() -> None:
    sizes: list[int] = []

    async def handler(events: Sequence[Event]) -> None:
        sizes.append(len(events))
        await asyncio.sleep(0.01)

    async def main() -> None:
        bus = InMemoryBus()
        bus.subscribe_batch(ANOMALIES, handler, group="g", max_batch=50)
        await bus.publish(ANOMALIES, [anomaly(series=f"s{i}", minute=i) for i in range(120)])
        await bus.start()
        await bus.drain()
        await bus.stop()

    asyncio.run(main())
    assert sum(sizes) == 120 and max(sizes) == 50 and len(sizes) <= 4


def _raw(event: Event, offset: int) -> RawMessage:
    return RawMessage("anomalies", b"k", encode(event), partition=0, offset=offset)


def test_a_failing_message_is_dead_lettered_alone_and_the_rest_handled() -> None:
    handled: list[str] = []
    letters: list[DeadLetter] = []

    async def handler(events: Sequence[Event]) -> None:
        if any(isinstance(e, Anomaly) and e.series == "poison" for e in events):
            raise ValueError("cannot handle poison")
        handled.extend(e.id for e in events)

    async def dead_letter(_: str, letter: DeadLetter) -> None:
        letters.append(letter)

    batch = [_raw(anomaly(series=s), i) for i, s in enumerate(["a", "poison", "b"])]
    batch.append(RawMessage("anomalies", None, b"{not json", partition=0, offset=3))
    dispatcher = BatchDispatcher(ANOMALIES, handler, dead_letter)
    asyncio.run(dispatcher.dispatch(batch))
    assert len(handled) == 2
    assert sorted(letter.offset for letter in letters if letter.offset is not None) == [1, 3]


def test_a_transient_failure_retries_the_batch_until_it_succeeds() -> None:
    attempts: list[int] = []

    async def handler(events: Sequence[Event]) -> None:
        attempts.append(len(events))
        if len(attempts) < 3:
            raise RetryableError("database unavailable")

    async def dead_letter(_: str, letter: DeadLetter) -> None:
        raise AssertionError("nothing should be dead-lettered")

    dispatcher = BatchDispatcher(
        ANOMALIES, handler, dead_letter, RetryPolicy(initial_s=0.001, max_s=0.01)
    )
    asyncio.run(dispatcher.dispatch([_raw(anomaly(series=s), i) for i, s in enumerate("ab")]))
    assert attempts == [2, 2, 2] and dispatcher.handled == 2 and dispatcher.retries == 2


def test_the_api_service_turns_anomalies_and_alerts_on_the_bus_into_incidents(
    sqlite_url: str,
) -> None:
    from sqlalchemy import select

    from services.api.incidents.models import Incident
    from services.api.service import build_api
    from services.api.settings import ApiSettings
    from services.core.topics import ALERTS_EXTERNAL
    from tests.factories import alert

    async def main() -> list[tuple[str, int]]:
        bus = InMemoryBus()
        api = build_api(ApiSettings(database_url=sqlite_url), bus)
        stopping = asyncio.Event()
        await bus.start()
        await api.start(stopping)
        stream = api.feed.broadcaster.subscribe()
        try:
            await bus.publish(ANOMALIES, [anomaly(series=f"s{i}", minute=i) for i in range(3)])
            await bus.publish(
                ALERTS_EXTERNAL, [alert(service="payments", minute=m) for m in range(2)]
            )
            await bus.drain()
            stopping.set()  # shutdown begins: open event streams end
            async with asyncio.timeout(5):
                while (await stream.get()) is not None:
                    pass
            with api.session_factory() as session:
                rows = session.scalars(select(Incident).order_by(Incident.service)).all()
                return [(i.service, i.signal_count) for i in rows]
        finally:
            await api.stop()
            await bus.stop()

    assert asyncio.run(main()) == [("checkout", 3), ("payments", 2)]
