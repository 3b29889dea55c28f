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
from services.demo.remediation import APPROVER, DemoOperator, Healer
from services.demo.webhook import webhook_channels, webhook_summary
from services.demo.workload import SERVICES, Workload
from services.embedded import EmbeddedStack
from services.remediate.executors.demo import DemoCluster

TICKS = 330


class ConsolePrinter:
    """Prints incidents as they open and resolve, with the anomaly that explains them."""

    def __init__(self, workload: Workload, out: Callable[[str], None]) -> None:
        self.workload = workload
        self.out = out
        self.started = time.monotonic()
        self.opened: set[str] = set()
        self.resolved: set[str] = set()

    def stamp(self) -> str:
        """Seconds since the demo started, as a line prefix."""
        return f"[{time.monotonic() - self.started:6.1f}s]"

    async def on_incident(self, event: Event) -> None:
        inc = cast(IncidentEvent, event)
        if inc.type.value in ("opened", "reopened"):
            self.opened.add(inc.incident_id)
            self.out(
                f"{self.stamp()} INCIDENT {inc.type.value.upper():8} {inc.incident_id[:8]}  "
                f"{inc.service:<10} {inc.severity.value:<8} {inc.title}"
            )
        elif inc.type.value == "resolved":
            self.resolved.add(inc.incident_id)
            lasted = (inc.resolved_at or inc.at) - inc.opened_at
            self.out(
                f"{self.stamp()} INCIDENT RESOLVED {inc.incident_id[:8]}  "
                f"{inc.service:<10} after {_minutes(lasted)} of simulated time"
            )

    async def on_anomaly(self, event: Event) -> None:
        anomaly = cast(Anomaly, event)
        if anomaly.status == "firing" and anomaly.explanation is not None:
            self.out(
                f"{self.stamp()}   anomaly  {anomaly.explanation.detail} "
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
    webhook: str | None = None,
    webhook_secret: str = "",
) -> int:
    """Run the demo for about `duration` seconds of wall time; returns the exit code.

    With `webhook`, every notification is also delivered there, signed with `webhook_secret`.
    """
    extra = webhook_channels(webhook, webhook_secret)
    workdir = Path(tempfile.mkdtemp(prefix="vigil-demo-"))
    url = database_url or f"sqlite:///{workdir / 'vigil-demo.db'}"
    workload = Workload(
        seed=seed, start=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10 * TICKS)
    )
    cluster = DemoCluster.of(list(SERVICES))  # the target of demo.restart
    stack = EmbeddedStack.build(
        url, demo=cluster, extra_channels=extra, trust_local_urls=bool(extra)
    )
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
    admin, approver = (
        _api_client(stack, "demo-admin", Role.ADMIN),
        _api_client(stack, APPROVER, Role.APPROVER),
    )
    operator = DemoOperator(admin, approver, out, printer.stamp)
    try:
        await operator.install_policies()
        watching = asyncio.create_task(operator.run(), name="demo-operator")
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as ingest:
            await _push_workload(ingest, workload, duration * 0.85, out, Healer(cluster, workload))
        await stack.bus.drain(timeout=30)
        await stack.api.sweeper.sweep_once()  # resolve what is past its quiet period now
        await stack.api.relay.relay_once()
        await stack.bus.drain(timeout=30)
        await _settle(stack, operator)
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await _summary(stack, out)
        if extra:
            webhook_summary(stack.notify.worker if stack.notify else None, out)
        await _remediation_summary(operator, out)
    finally:
        await admin.aclose()
        await approver.aclose()
        await stack.stop()
    return 0


def _api_client(stack: EmbeddedStack, name: str, role: Role) -> httpx.AsyncClient:
    key = stack.api.create_key(name, role)  # the demo's database is its own
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.api.app),
        base_url="http://api",
        headers={"Authorization": f"Bearer {key}"},
    )


async def _settle(stack: EmbeddedStack, operator: DemoOperator, seconds: float = 10.0) -> None:
    """Let actions still under way finish and be verified (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await stack.api.remediation.sweep_once()
        await stack.api.relay.relay_once()
        await stack.bus.drain(timeout=5)
        await operator.poll_once()
        if operator.in_flight(await operator.actions()) == 0:
            return
        await asyncio.sleep(0.2)


async def _remediation_summary(operator: DemoOperator, out: Callable[[str], None]) -> None:
    actions = await operator.actions()
    verified = sum(1 for a in actions if a["state"] == "verified")
    out(
        f"Remediation: {len(actions)} action(s) proposed, {verified} verified "
        "(GET /api/v1/actions lists them)."
    )
    for a in actions:
        how = "policy" if a["auto_approved"] else "API"
        out(
            f"  {a['id'][:8]}  {a['action']} on {a['target']:<10} approved via {how:<6} "
            f"{a['state']}"
        )


async def _push_workload(
    ingest: httpx.AsyncClient,
    workload: Workload,
    seconds: float,
    out: Callable[[str], None],
    healer: Healer | None = None,
) -> None:
    interval = seconds / TICKS
    began = time.monotonic()
    for tick in range(TICKS):
        for line in healer.observe(tick) if healer else []:
            out(f"[{time.monotonic() - began:6.1f}s]   {line}")
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
