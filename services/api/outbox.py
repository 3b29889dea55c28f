"""Transactional outbox: events are stored with the change that caused them, then relayed.

Writing the outgoing event in the same transaction as the incident change means an event is
published if and only if the change was committed. The relay publishes pending rows in order
and marks them sent; a crash between the two republishes (consumers dedup by event id).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from services.core.bus import Bus
from services.core.db import Base, UTCDateTime
from services.core.errors import RetryableError
from services.core.events import Event, utcnow
from services.core.topics import Topic

log = logging.getLogger(__name__)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(512))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


def enqueue(session: Session, topic: Topic, event: Event) -> None:
    """Add an event to the outbox inside the caller's transaction."""
    session.add(OutboxMessage(**message_row(topic, event)))


def message_row(topic: Topic, event: Event) -> dict[str, Any]:
    """An outbox row for `event`, for writers that insert many at once (`bulk.insert_rows`)."""
    return {
        "topic": topic.name,
        "key": event.partition_key(),
        "payload": event.model_dump_json(),
        "created_at": utcnow(),
    }


PRUNE_BATCH = 5000  # rows deleted per statement, so that pruning never holds long locks


class OutboxRelay:
    """Publishes committed outbox rows to the bus, oldest first."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        bus: Bus,
        *,
        poll_s: float = 0.5,
        batch: int = 500,
        retention: timedelta = timedelta(days=7),
        prune_every_s: float = 60.0,
    ) -> None:
        self.factory = factory
        self.bus = bus
        self.poll_s = poll_s
        self.batch = batch
        # Published rows are kept this long (SSE clients resume from them), then deleted.
        self.retention = retention
        self.prune_every_s = prune_every_s
        self.published = 0
        self.pruned = 0
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Wake the relay early (after a commit that enqueued something)."""
        self._wake.set()

    async def run(self) -> None:
        """Relay forever; transient failures are logged and retried."""
        while True:
            try:
                sent = await self.relay_once()
            except RetryableError as exc:
                log.warning("outbox relay will retry: %s", exc)
                sent = 0
            except Exception:  # noqa: BLE001 - e.g. the database is down; never stop relaying
                log.exception("outbox relay failed; will retry")
                sent = 0
            if sent < self.batch:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
                except TimeoutError:
                    pass

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; returns how many were sent."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        await self.bus.publish_records(
            [(topic, key.encode(), payload.encode()) for _, topic, key, payload in rows]
        )
        await asyncio.to_thread(self._mark_sent, [row[0] for row in rows])
        self.published += len(rows)
        return len(rows)

    async def prune_forever(self) -> None:
        """Delete published rows past their retention, every `prune_every_s`."""
        while True:
            try:
                while await asyncio.to_thread(self.prune_once, utcnow()) == PRUNE_BATCH:
                    pass  # a backlog (first start after an upgrade): keep going
            except Exception:  # noqa: BLE001 - e.g. the database is down; try again later
                log.exception("outbox pruning failed; will retry")
            await asyncio.sleep(self.prune_every_s)

    def prune_once(self, now: datetime) -> int:
        """Delete up to PRUNE_BATCH rows published before `now - retention`; returns how many.

        Never a pending row: what is not published yet stays, however old.
        """
        oldest = (
            select(OutboxMessage.id)
            .where(OutboxMessage.published_at < now - self.retention)
            .order_by(OutboxMessage.id)
            .limit(PRUNE_BATCH)
        )
        with self.factory() as session, session.begin():
            result = session.execute(
                delete(OutboxMessage).where(OutboxMessage.id.in_(oldest.scalar_subquery()))
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        self.pruned += deleted
        return deleted

    def _pending(self) -> list[tuple[int, str, str, str]]:
        with self.factory() as session:
            query = (
                select(
                    OutboxMessage.id, OutboxMessage.topic, OutboxMessage.key, OutboxMessage.payload
                )
                .where(OutboxMessage.published_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(self.batch)
            )
            return [(r[0], r[1], r[2], r[3]) for r in session.execute(query)]

    def _mark_sent(self, row_ids: list[int]) -> None:
        with self.factory() as session, session.begin():
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(row_ids))
                .values(published_at=utcnow())
            )
