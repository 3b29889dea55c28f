"""Composition root of the api service: database, anomaly consumer, outbox relay, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.consumer import AnomalyConsumer
from services.api.incidents.correlation import CorrelationPolicy
from services.api.outbox import OutboxRelay
from services.api.settings import ApiSettings
from services.core.bus import Bus
from services.core.db import make_engine, make_session_factory
from services.core.topics import ANOMALIES


@dataclass
class ApiService:
    """Everything the api service runs, wired together."""

    settings: ApiSettings
    bus: Bus
    engine: Engine
    session_factory: sessionmaker[Session]
    consumer: AnomalyConsumer
    relay: OutboxRelay
    app: FastAPI
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start background work (the outbox relay); the bus is started by the caller."""
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))

    async def stop(self) -> None:
        """Stop background work and release connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.relay.relay_once()  # flush what is pending if the bus is still up
        self.engine.dispose()


def build_api(settings: ApiSettings, bus: Bus) -> ApiService:
    """Wire the api service (call before bus.start())."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    relay = OutboxRelay(factory, bus, poll_s=settings.outbox_poll_s, batch=settings.outbox_batch)
    policy = CorrelationPolicy(reopen_window=timedelta(seconds=settings.reopen_window_s))
    consumer = AnomalyConsumer(factory, policy, on_commit=relay.notify)
    bus.subscribe(ANOMALIES, consumer.handle, group=settings.api_group)
    app = create_app(factory, ready=bus.ready)
    return ApiService(settings, bus, engine, factory, consumer, relay, app)
