"""The live feed of incident changes behind the SSE stream, and the quiet-period sweeper.

Every api replica tails the `outbox` table (the ordered log of every incident change, written
in the change's transaction) and fans new rows out to its SSE clients. Reading the database
rather than this process's own commits means each replica streams every change, whichever
replica (or consumer partition) made it; the relay to Kafka is unaffected.

Ids of an autoincrement column become visible out of order under concurrent transactions
(id 11 may commit before id 10). `GapTracker` re-reads above the last settled id and waits a
short grace period for missing ids before giving up on them (a rolled-back transaction never
fills its gap), so no committed change is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents import quiet
from services.api.incidents import service as incidents
from services.api.outbox import OutboxMessage
from services.core.db import transaction
from services.core.events import utcnow
from services.core.topics import INCIDENTS

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Change:
    """One incident change as the stream sends it: outbox id, event type, JSON payload."""

    id: int
    event_type: str
    data: str


@dataclass
class GapTracker:
    """Which ids of an out-of-order-visible log are new; pure, driven by a clock."""

    cursor: int
    grace: timedelta = timedelta(seconds=10)
    max_gaps: int = 10_000
    seen_above: set[int] = field(default_factory=set)
    gaps: dict[int, datetime] = field(default_factory=dict)

    def accept(self, ids: list[int], now: datetime) -> list[int]:
        """The ids not delivered before, in order; advances the cursor past settled ids."""
        fresh = sorted(i for i in set(ids) if i > self.cursor and i not in self.seen_above)
        self.seen_above.update(fresh)
        top = max(self.seen_above, default=self.cursor)
        missing = [i for i in range(self.cursor + 1, top) if i not in self.seen_above]
        if len(missing) > self.max_gaps:
            missing = []  # a sequence jump, not transactions in flight
            self.seen_above.update(range(self.cursor + 1, top))
        for i in missing:
            self.gaps.setdefault(i, now)
        while True:
            nxt = self.cursor + 1
            if nxt in self.seen_above:
                self.seen_above.discard(nxt)
            elif nxt in self.gaps and now - self.gaps[nxt] >= self.grace:
                pass
            else:
                break
            self.gaps.pop(nxt, None)
            self.cursor = nxt
        return fresh


class Broadcaster:
    """Fans changes out to subscribers; a subscriber that falls too far behind is dropped."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._subscribers: set[asyncio.Queue[Change | None]] = set()
        self.closed = False

    def subscribe(self) -> asyncio.Queue[Change | None]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue(self.queue_size)
        if self.closed:
            queue.put_nowait(None)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change | None]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, change: Change) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # Too slow: end its stream; the client reconnects with Last-Event-ID.
                self._end(queue)

    def close(self) -> None:
        """End every stream (shutdown)."""
        self.closed = True
        for queue in list(self._subscribers):
            self._end(queue)

    def _end(self, queue: asyncio.Queue[Change | None]) -> None:
        self._subscribers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


class ChangeFeed:
    """Polls the outbox for incident changes (woken early by local commits) and broadcasts."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        broadcaster: Broadcaster,
        *,
        poll_s: float = 0.5,
        batch: int = 1000,
        clock: Clock = utcnow,
    ) -> None:
        self.factory = factory
        self.broadcaster = broadcaster
        self.poll_s = poll_s
        self.batch = batch
        self.clock = clock
        self.tracker: GapTracker | None = None
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Poll now (after a local commit)."""
        self._wake.set()

    async def run(self) -> None:
        """Poll forever; failures are logged and retried."""
        while True:
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001 - the database may be down; keep trying
                log.exception("incident change feed failed; will retry")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)

    async def poll_once(self) -> int:
        """Broadcast the changes committed since the last poll; returns how many."""
        if self.tracker is None:
            start = await asyncio.to_thread(self._max_id)
            self.tracker = GapTracker(cursor=start)
        # Nobody listening: move the cursor on without reading the payloads.
        listening = self.broadcaster.subscribers > 0
        rows = await asyncio.to_thread(self._rows_after, self.tracker.cursor, listening)
        fresh = set(self.tracker.accept([r[0] for r in rows], self.clock()))
        sent = 0
        for row_id, topic, payload in rows:
            if listening and row_id in fresh and topic == INCIDENTS.name:
                self.broadcaster.publish(to_change(row_id, payload))
                sent += 1
        return sent

    def replay(self, after_id: int, limit: int = 1000) -> list[Change]:
        """Incident changes after an outbox id (for a client resuming with Last-Event-ID)."""
        with self.factory() as session:
            query = (
                select(OutboxMessage.id, OutboxMessage.payload)
                .where(OutboxMessage.id > after_id, OutboxMessage.topic == INCIDENTS.name)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            return [to_change(i, p) for i, p in session.execute(query)]

    def _max_id(self) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.max(OutboxMessage.id))) or 0)

    def _rows_after(self, cursor: int, payloads: bool) -> list[tuple[int, str, str]]:
        payload = OutboxMessage.payload if payloads else literal("")
        with self.factory() as session:
            query = (
                select(OutboxMessage.id, OutboxMessage.topic, payload)
                .where(OutboxMessage.id > cursor)
                .order_by(OutboxMessage.id)
                .limit(self.batch)
            )
            return [(r[0], r[1], r[2]) for r in session.execute(query)]


def to_change(row_id: int, payload: str) -> Change:
    """An outbox row of the incidents topic as a stream change."""
    try:
        event_type = str(json.loads(payload).get("type", "updated"))
    except (ValueError, AttributeError):
        event_type = "updated"
    return Change(row_id, event_type, payload)


class Sweeper:
    """Resolves recovered incidents once their quiet period has passed, every `interval_s`."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: quiet.QuietPolicy,
        *,
        interval_s: float = 5.0,
        on_commit: Callable[[], None] = lambda: None,
        clock: Clock = utcnow,
    ) -> None:
        self.factory = factory
        self.policy = policy
        self.interval_s = interval_s
        self.on_commit = on_commit
        self.clock = clock
        self.resolved = 0

    async def run(self) -> None:
        """Sweep forever; failures are logged and retried next time."""
        while True:
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - e.g. the database is down
                log.exception("quiet-period sweep failed; will retry")
            await asyncio.sleep(self.interval_s)

    async def sweep_once(self) -> int:
        """Resolve what is due now; returns how many incidents were resolved."""
        count = await asyncio.to_thread(self._sweep)
        if count:
            self.resolved += count
            self.on_commit()
        return count

    def _sweep(self) -> int:
        with transaction(self.factory) as session:
            return len(incidents.sweep(session=session, now=self.clock(), policy=self.policy))
