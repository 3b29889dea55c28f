"""Consumes anomalies and turns them into incidents (thin: parse, call, commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents import correlation, service
from services.core.db import transaction
from services.core.errors import RetryableError
from services.core.events import Anomaly, Event


class AnomalyConsumer:
    """Bus handler for the anomalies topic."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: correlation.CorrelationPolicy,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.factory = factory
        self.policy = policy
        self.on_commit = on_commit
        self.duplicates = 0

    async def handle(self, event: Event) -> None:
        """Record one anomaly; the offset is committed only after this returns."""
        await asyncio.to_thread(self._apply, cast(Anomaly, event))
        self.on_commit()

    def _apply(self, anomaly: Anomaly) -> None:
        try:
            with transaction(self.factory) as session:
                service.record_anomaly(session=session, anomaly=anomaly, policy=self.policy)
        except IntegrityError:
            # Another delivery of the same anomaly won the race: nothing left to do.
            self.duplicates += 1
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc.orig, OSError) or _is_operational(exc):
                raise RetryableError(f"database unavailable: {type(exc.orig).__name__}") from exc
            raise


def _is_operational(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)
