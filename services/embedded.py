"""The embedded default: every service in one process over the in-memory bus and SQLite."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

import migrations
from services.api.service import ApiService, build_api
from services.api.settings import ApiSettings
from services.core.bus import InMemoryBus
from services.core.metrics import Forwarded, register_values
from services.core.runtime import ensure_port_free, http_server
from services.detect.service import build_detect, detect_metrics
from services.detect.settings import DetectSettings
from services.detect.worker import MetricsWorker
from services.ingest.runner import embedded_app as embedded_ingest_app
from services.ingest.settings import IngestSettings
from services.remediate.service import build_remediate, remediate_metrics
from services.remediate.settings import RemediateSettings

log = logging.getLogger(__name__)


@dataclass
class EmbeddedStack:
    """All services wired over one in-memory bus; `start()` then `stop()`."""

    bus: InMemoryBus
    api: ApiService
    detect: MetricsWorker
    ingest_settings: IngestSettings
    ingest: FastAPI

    @classmethod
    def build(cls, database_url: str | None = None) -> EmbeddedStack:
        """Wire the stack; settings come from the environment, the database URL may override."""
        api_settings = ApiSettings(database_url=database_url) if database_url else ApiSettings()
        if api_settings.database_url.startswith("sqlite:///"):
            db_path = Path(api_settings.database_url.removeprefix("sqlite:///"))
            db_path.parent.mkdir(parents=True, exist_ok=True)
        migrations.upgrade(api_settings.database_url)
        bus = InMemoryBus()
        api = build_api(api_settings, bus)
        detect = build_detect(DetectSettings(), bus)
        remediate = build_remediate(RemediateSettings(), bus)
        ingest_settings = IngestSettings()
        ingest = embedded_ingest_app(ingest_settings, bus)
        # One /metrics on the api port for everything in this process (the bus is shared).
        register_values(api.metrics, detect_metrics(detect) + remediate_metrics(remediate))
        api.metrics.register(Forwarded(ingest.state.service.metrics.registry))
        return cls(bus=bus, api=api, detect=detect, ingest_settings=ingest_settings, ingest=ingest)

    def ingest_app(self) -> object:
        """The ingest HTTP app publishing to this stack's bus (one per stack)."""
        return self.ingest

    async def start(self) -> None:
        await self.bus.start()
        await self.api.start()

    async def stop(self) -> None:
        await self.bus.drain(timeout=10)
        await self.api.stop()
        await self.bus.stop()

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve the API (and console) and ingest over HTTP until `stop` is set."""
        ensure_port_free(self.api.settings.api_host, self.api.settings.api_port, "the API")
        ensure_port_free(
            self.ingest_settings.ingest_host, self.ingest_settings.ingest_port, "ingest"
        )
        api_server = http_server(
            self.api.app, self.api.settings.api_host, self.api.settings.api_port
        )
        ingest_server = http_server(
            self.ingest_app(), self.ingest_settings.ingest_host, self.ingest_settings.ingest_port
        )
        tasks = [
            asyncio.create_task(api_server.serve()),
            asyncio.create_task(ingest_server.serve()),
        ]
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        self.api.feed.broadcaster.close()  # end event streams, or shutdown waits for them
        api_server.should_exit = ingest_server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        waiter.cancel()
        for task in done:
            if task is not waiter and task.exception() is not None:
                raise RuntimeError(f"HTTP server failed: {task.exception()}")
