"""Runs the demo: embedded stack, workload pushed through the ingest HTTP app, live printout."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx

from services.api.auth.roles import Role
from services.core.events import Anomaly, Event, IncidentEvent
from services.core.topics import ANOMALIES, INCIDENTS
from services.demo.workload import Workload
from services.embedded import EmbeddedStack

TICKS = 330


class ConsolePrinter:
    """Prints incidents as they open and resolve, with the anomaly that explains them."""

    def __init__(self, workload: Workload, out: Callable[[str], None]) -> None:
        self.workload = workload
        self.out = out
        self.started = time.monotonic()
        self.opened: set[str] = set()
        self.resolved: set[str] = set()

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s]"

    async def on_incident(self, event: Event) -> None:
        inc = cast(IncidentEvent, event)
        if inc.type.value in ("opened", "reopened"):
            self.opened.add(inc.incident_id)
            self.out(
                f"{self._stamp()} INCIDENT {inc.type.value.upper():8} {inc.incident_id[:8]}  "
                f"{inc.service:<10} {inc.severity.value:<8} {inc.title}"
            )
        elif inc.type.value == "resolved":
            self.resolved.add(inc.incident_id)
            lasted = (inc.resolved_at or inc.at) - inc.opened_at
            self.out(
                f"{self._stamp()} INCIDENT RESOLVED {inc.incident_id[:8]}  "
                f"{inc.service:<10} after {_minutes(lasted)} of simulated time"
            )

    async def on_anomaly(self, event: Event) -> None:
        anomaly = cast(Anomaly, event)
        if anomaly.status == "firing" and anomaly.explanation is not None:
            self.out(
                f"{self._stamp()}   anomaly  {anomaly.explanation.detail} "
                f"[{anomaly.detector}, score {anomaly.score:.2f}]"
            )


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.1f} min"


async def run_demo(
    *,
    duration: float,
    seed: int = 7,
    database_url: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run the demo for about `duration` seconds of wall time; returns the exit code."""
    workdir = Path(tempfile.mkdtemp(prefix="vigil-demo-"))
    url = database_url or f"sqlite:///{workdir / 'vigil-demo.db'}"
    workload = Workload(
        seed=seed, start=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10 * TICKS)
    )
    stack = EmbeddedStack.build(url)
    printer = ConsolePrinter(workload, out)
    stack.bus.subscribe(INCIDENTS, printer.on_incident, group="demo-console")
    stack.bus.subscribe(ANOMALIES, printer.on_anomaly, group="demo-console")
    out(
        f"Vigil demo: {len(workload.batch(0))} series from 4 services, {TICKS} ticks of 10 s "
        f"simulated time in ~{duration:.0f} s; database {url}"
    )
    for fault in workload.faults:
        out(f"  fault to inject: {fault.description} (ticks {fault.start}-{fault.end})")
    await stack.start()
    transport = httpx.ASGITransport(app=cast(Any, stack.ingest_app()))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as ingest:
            await _push_workload(ingest, workload, duration * 0.85, out)
        await stack.bus.drain(timeout=30)
        await stack.api.sweeper.sweep_once()  # resolve what is past its quiet period now
        await stack.api.relay.relay_once()
        await stack.bus.drain(timeout=30)
        await _summary(stack, out)
    finally:
        await stack.stop()
    return 0


async def _push_workload(
    ingest: httpx.AsyncClient, workload: Workload, seconds: float, out: Callable[[str], None]
) -> None:
    interval = seconds / TICKS
    began = time.monotonic()
    for tick in range(TICKS):
        for fault in workload.faults:
            if tick == fault.start:
                out(f"[{time.monotonic() - began:6.1f}s] >>> injecting {fault.description}")
            if tick == fault.end:
                out(f"[{time.monotonic() - began:6.1f}s] <<< {fault.description} over")
        response = await ingest.post("/v1/json/metrics", json={"points": workload.batch(tick)})
        response.raise_for_status()
        delay = began + (tick + 1) * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def _summary(stack: EmbeddedStack, out: Callable[[str], None]) -> None:
    transport = httpx.ASGITransport(app=stack.api.app)
    key = stack.api.create_key("demo", Role.VIEWER)  # the demo's database is its own
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=headers
    ) as api:
        page = (await api.get("/api/v1/incidents", params={"limit": 100})).json()
    items = page["items"]
    opened = len(items)
    resolved = sum(1 for i in items if i["status"] == "resolved")
    out(
        f"Summary: {opened} incident(s) opened, {resolved} resolved "
        f"(GET /api/v1/incidents lists them)."
    )
    for item in items:
        out(
            f"  {item['id'][:8]}  {item['service']:<10} {item['status']:<9} "
            f"{item['severity']:<8} {item['title']}"
        )
