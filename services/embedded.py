"""The embedded default: every service in one process over the in-memory bus and SQLite."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

import migrations
from services.api.service import ApiService, build_api
from services.api.settings import ApiSettings
from services.core.bus import InMemoryBus
from services.core.metrics import Forwarded, register_values
from services.core.runtime import ensure_port_free, http_server
from services.detect.service import build_detect, detect_collector, detect_metrics
from services.detect.settings import DetectSettings
from services.detect.worker import MetricsWorker
from services.ingest.runner import embedded_app as embedded_ingest_app
from services.ingest.settings import IngestSettings
from services.remediate.clock import SystemClock
from services.remediate.executors.demo import DemoCluster
from services.remediate.notify.base import ChannelConfig
from services.remediate.service import (
    NotifyService,
    build_executors,
    build_notifications,
    build_remediate,
    remediate_metrics,
)
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
    notify: NotifyService | None = None

    @classmethod
    def build(
        cls,
        database_url: str | None = None,
        *,
        extra_channels: Sequence[ChannelConfig] = (),
        trust_local_urls: bool = False,
        demo: DemoCluster | None = None,
    ) -> EmbeddedStack:
        """Wire the stack; settings come from the environment, the database URL may override.

        `extra_channels` are channels not stored in the database (e.g. `vigil demo --webhook`):
        every notification is also addressed to them. `trust_local_urls` lets notifications and
        runbooks reach private and loopback addresses (the demo's local receivers). `demo` is
        the simulated target of `demo.restart` (for `vigil demo`).
        """
        api_settings = ApiSettings(database_url=database_url) if database_url else ApiSettings()
        shared: dict[str, str | bool] = {"database_url": api_settings.database_url}
        if api_settings.database_url.startswith("sqlite:///"):
            db_path = Path(api_settings.database_url.removeprefix("sqlite:///"))
            db_path.parent.mkdir(parents=True, exist_ok=True)
            if "secret_key_file" not in api_settings.model_fields_set:
                # The generated channel-secret key lives with the database it protects.
                shared["secret_key_file"] = str(db_path.with_suffix(".secret-key"))
                api_settings = api_settings.model_copy(update=shared)
        migrations.upgrade(api_settings.database_url)
        bus = InMemoryBus()
        local = {
            "remediate_outbound_allow_private": True,
            "remediate_outbound_allow_loopback": True,
        }
        remediate_settings = RemediateSettings().model_copy(
            update={**shared, **(local if trust_local_urls else {})}
        )
        # The api previews (and plans rollbacks of) exactly what this process's worker runs.
        executors = build_executors(remediate_settings, SystemClock(), demo)
        api = build_api(api_settings, bus, executors=executors)
        detect = build_detect(DetectSettings(), bus)
        remediate = build_remediate(remediate_settings, bus, demo=demo)
        notify = (
            build_notifications(remediate_settings, bus, extra=extra_channels)
            if remediate_settings.notify_enabled
            else None
        )
        ingest_settings = IngestSettings()
        ingest = embedded_ingest_app(ingest_settings, bus)
        # One /metrics on the api port for everything in this process (the bus is shared).
        register_values(api.metrics, detect_metrics(detect) + remediate_metrics(remediate))
        api.metrics.register(Forwarded(ingest.state.service.metrics.registry))
        if (intelligence := detect_collector(detect)) is not None:
            api.metrics.register(intelligence)
        if notify is not None:
            api.metrics.register(notify.collector())
        return cls(
            bus=bus,
            api=api,
            detect=detect,
            ingest_settings=ingest_settings,
            ingest=ingest,
            notify=notify,
        )

    def ingest_app(self) -> object:
        """The ingest HTTP app publishing to this stack's bus (one per stack)."""
        return self.ingest

    async def start(self) -> None:
        await self.bus.start()
        await self.api.start()
        if self.notify is not None:
            await self.notify.start()

    async def stop(self) -> None:
        await self.bus.drain(timeout=10)
        await self.api.stop()
        await self.bus.stop()
        if self.notify is not None:
            await self.notify.stop()

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
