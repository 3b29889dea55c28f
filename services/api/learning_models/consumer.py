"""Consumes `models` and `models.shadow` from detect (thin: parse, call, commit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import cast

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.api.learning_models import service
from services.core.db import transaction
from services.core.errors import RetryableError
from services.core.events import Event, ModelReport, ShadowReport


class ModelConsumer:
    """Bus handler for model reports and shadow-run reports."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.reports = 0
        self.shadow_reports = 0

    async def handle_reports(self, events: Sequence[Event]) -> None:
        """Upsert a batch of per-series model reports; returns after the commit."""
        reports = [cast(ModelReport, e) for e in events]
        await asyncio.to_thread(self._store, lambda s: service.record_reports(s, reports))
        self.reports += len(reports)

    async def handle_shadow(self, events: Sequence[Event]) -> None:
        """Store a batch of shadow-run totals and shadow anomalies; returns after the commit."""
        reports = [cast(ShadowReport, e) for e in events]
        await asyncio.to_thread(self._store, lambda s: service.record_shadow(s, reports))
        self.shadow_reports += len(reports)

    def _store(self, write: Callable[[Session], int]) -> None:
        try:
            with transaction(self.factory) as session:
                write(session)
        except IntegrityError as exc:
            # Another replica inserted the same row first: the retry updates it instead.
            raise RetryableError("model report raced another writer") from exc
        except (OperationalError, InterfaceError) as exc:
            raise RetryableError(f"database unavailable: {type(exc.orig).__name__}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc.orig, OSError):
                raise RetryableError("database unavailable") from exc
            raise
