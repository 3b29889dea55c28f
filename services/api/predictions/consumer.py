"""Consumes `predictions` (thin: parse, call, commit); failure alerts open predicted incidents."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import cast

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents.inputs import IncidentPolicy
from services.api.predictions import service
from services.core.db import transaction
from services.core.errors import RetryableError
from services.core.events import Event, Prediction, utcnow


class PredictionConsumer:
    """Bus handler for the `predictions` topic."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: IncidentPolicy,
        on_commit: Callable[[], None] = lambda: None,
        *,
        retention: timedelta = timedelta(days=7),
        prune_every_s: float = 600.0,
    ) -> None:
        self.factory = factory
        self.policy = policy
        self.on_commit = on_commit
        self.retention = retention
        self.prune_every_s = prune_every_s
        self.recorded = 0
        self.pruned = 0
        self._pruned_at = -float("inf")  # monotonic time of the last pruning

    async def handle(self, events: Sequence[Event]) -> None:
        """Store a batch of predictions in one transaction; returns after the commit."""
        predictions = [cast(Prediction, e) for e in events]
        await asyncio.to_thread(self._store, predictions)
        self.recorded += len(predictions)
        self.on_commit()
        if time.monotonic() - self._pruned_at >= self.prune_every_s:
            self._pruned_at = time.monotonic()
            self.pruned += await asyncio.to_thread(self.prune)

    def prune(self) -> int:
        """Delete predictions older than the retention (run now and then by `handle`)."""
        with transaction(self.factory) as session:
            return service.prune(session=session, before=utcnow() - self.retention)

    def _store(self, predictions: list[Prediction]) -> None:
        try:
            with transaction(self.factory) as session:
                service.record(session=session, predictions=predictions, policy=self.policy)
        except IntegrityError as exc:
            # Another replica stored one of them first: the retry skips what is stored.
            raise RetryableError("prediction raced another writer") from exc
        except (OperationalError, InterfaceError) as exc:
            raise RetryableError(f"database unavailable: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc.orig, OSError):
                raise RetryableError("database unavailable") from exc
            raise
