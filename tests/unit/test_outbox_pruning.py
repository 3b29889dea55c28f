"""The outbox does not grow forever: published rows past their retention are deleted, in
bounded batches; a row not yet published is never deleted, however old."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.api import outbox
from services.api.outbox import OutboxMessage, OutboxRelay
from services.core.bus import InMemoryBus
from services.core.db import make_engine, make_session_factory, transaction
from tests.factories import T0


def _row(key: str, *, created_days_ago: float, published_days_ago: float | None) -> OutboxMessage:
    return OutboxMessage(
        topic="incidents",
        key=key,
        payload="{}",
        created_at=T0 - timedelta(days=created_days_ago),
        published_at=None
        if published_days_ago is None
        else T0 - timedelta(days=published_days_ago),
    )


def test_published_rows_past_retention_are_deleted_and_pending_ones_kept(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        session.add_all([
            _row("old-published-1", created_days_ago=30, published_days_ago=29),
            _row("old-published-2", created_days_ago=8, published_days_ago=8),
            _row("old-pending", created_days_ago=30, published_days_ago=None),
            _row("recent-published", created_days_ago=6, published_days_ago=6),
            _row("new-pending", created_days_ago=0, published_days_ago=None),
        ])  # fmt: skip
    relay = OutboxRelay(factory, InMemoryBus(), retention=timedelta(days=7))
    assert relay.prune_once(T0) == 2
    assert relay.prune_once(T0) == 0  # nothing more to do
    with factory() as session:
        kept = sorted(session.scalars(select(OutboxMessage.key)))
    assert kept == ["new-pending", "old-pending", "recent-published"]
    assert relay.pruned == 2
    engine.dispose()


def test_pruning_deletes_in_bounded_batches(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        session.add_all(
            _row(f"k{i}", created_days_ago=9, published_days_ago=9)
            for i in range(outbox.PRUNE_BATCH + 7)
        )
    relay = OutboxRelay(factory, InMemoryBus(), retention=timedelta(days=7))
    assert relay.prune_once(T0) == outbox.PRUNE_BATCH
    assert relay.prune_once(T0) == 7
    engine.dispose()
