"""Consumes anomalies and external alerts into incidents (thin: parse, call, commit).

Messages arrive in batches; each batch is recorded in one transaction, and the bus
acknowledges the batch's offsets only after this handler returned, that is after the commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents import activity, topology
from services.api.incidents.signals import (
    IncidentPolicy,
    SignalIn,
    from_alert,
    from_anomaly,
    record_signals,
)
from services.api.notifications import service as notifications
from services.core.db import transaction
from services.core.errors import RetryableError
from services.core.events import Anomaly, Event, ExternalAlert, TopologySnapshot

log = logging.getLogger(__name__)


class SignalConsumer:
    """Bus handler for the `anomalies` and `alerts.external` topics."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: IncidentPolicy,
        on_commit: Callable[[], None] = lambda: None,
        on_activity: Callable[[Session, list[Event]], None] = lambda _s, _e: None,
    ) -> None:
        self.factory = factory
        self.policy = policy
        self.on_commit = on_commit
        # Runs in the activity transaction (remediation results update their actions).
        self.on_activity = on_activity
        self.recorded = 0
        self.duplicates = 0

    async def handle_anomalies(self, events: Sequence[Event]) -> None:
        """Record a batch of anomalies; returns after the commit."""
        await self._handle(lambda: [from_anomaly(cast(Anomaly, e)) for e in events])

    async def handle_alerts(self, events: Sequence[Event]) -> None:
        """Record a batch of external alerts; returns after the commit."""
        await self._handle(lambda: [from_alert(cast(ExternalAlert, e)) for e in events])

    async def handle_activity(self, events: Sequence[Event]) -> None:
        """Record remediation and notification outcomes on timelines; returns after commit."""
        await asyncio.to_thread(self._store_activity, list(events))
        self.on_commit()

    def _store_activity(self, events: list[Event]) -> None:
        try:
            with transaction(self.factory) as session:
                activity.record_activity(session=session, events=events)
                notifications.record_deliveries(session=session, events=events)
                self.on_activity(session, events)
        except IntegrityError as exc:
            raise RetryableError("activity event raced another writer") from exc
        except DBAPIError as exc:
            raise _retryable(exc) from exc

    async def handle_topology(self, events: Sequence[Event]) -> None:
        """Keep the newest dependency snapshot of each traces worker; returns after commit."""
        snapshots = [cast(TopologySnapshot, e) for e in events]
        await asyncio.to_thread(self._store_topology, snapshots)

    def _store_topology(self, snapshots: list[TopologySnapshot]) -> None:
        try:
            with transaction(self.factory) as session:
                topology.store(session, snapshots)
        except IntegrityError as exc:
            # Another replica inserted the same (tenant, source) first: try again, as an update.
            raise RetryableError("topology snapshot raced another writer") from exc
        except DBAPIError as exc:
            raise _retryable(exc) from exc

    async def _handle(self, convert: Callable[[], list[SignalIn]]) -> None:
        # Converting (a payload dump per event) runs in the worker thread too: the event loop
        # keeps fetching while a batch is recorded.
        recorded = await asyncio.to_thread(self._apply, convert)
        self.recorded += recorded
        self.on_commit()

    def _apply(self, convert: Callable[[], list[SignalIn]]) -> int:
        signals = convert()
        try:
            self._record(signals)
        except IntegrityError:
            # Another delivery of one of these signals committed first. Record them one by
            # one: the duplicates are then recognised and skipped.
            log.info("duplicate signal in a batch of %d; recording one by one", len(signals))
            for signal in signals:
                try:
                    self._record([signal])
                except IntegrityError:
                    self.duplicates += 1
        return len(signals)

    def _record(self, signals: list[SignalIn]) -> None:
        try:
            with transaction(self.factory) as session:
                record_signals(session=session, signals=signals, policy=self.policy)
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise _retryable(exc) from exc


def _retryable(exc: DBAPIError) -> Exception:
    """A RetryableError when the database is unreachable, else the error itself."""
    if (
        exc.connection_invalidated
        or isinstance(exc.orig, OSError)
        or isinstance(exc, OperationalError | InterfaceError)
    ):
        return RetryableError(f"database unavailable: {type(exc.orig).__name__}")
    return exc
