"""`vigil demo --scenario microservices`: the simulated shop's metrics, logs and traces pushed
through the embedded stack's bus, with a slow database; incidents printed with their top root
cause (ranked by the api from the topology the traces detector learned)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx

from services.api.auth.roles import Role
from services.core.events import Event, IncidentEvent
from services.core.topics import INCIDENTS, TELEMETRY_LOGS, TELEMETRY_METRICS, TELEMETRY_TRACES
from services.demo.scenarios.faults import Fault, FaultKind, Scenario
from services.demo.scenarios.generator import ScenarioRun
from services.embedded import EmbeddedStack

# After the metrics detectors' warm-up (see scenarios.faults.FAULT_START_S).
FAULT = Fault(FaultKind.LEAF_LATENCY, "postgres", 3100.0, 3700.0)
DURATION_S = 4000


def microservices_scenario(seed: int) -> Scenario:
    """The demo's run: the shop with a slow postgres, seeded traffic."""
    return Scenario(f"demo/{FAULT.kind.value}/{seed}", seed, (FAULT,), DURATION_S)


async def run_microservices_demo(
    *,
    seed: int = 7,
    database_url: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run the scenario through the embedded stack as fast as it goes; returns the exit code."""
    url = database_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='vigil-demo-'))}/demo.db"
    scenario = microservices_scenario(seed)
    stack = EmbeddedStack.build(url)
    began = time.monotonic()

    async def on_incident(event: Event) -> None:
        inc = cast(IncidentEvent, event)
        if inc.type.value in ("opened", "reopened", "resolved"):
            out(
                f"[{time.monotonic() - began:6.1f}s] INCIDENT {inc.type.value.upper():8} "
                f"{inc.incident_id[:8]}  {inc.service:<10} {inc.title}"
            )

    stack.bus.subscribe(INCIDENTS, on_incident, group="demo-console")
    out(
        f"Vigil demo (microservices): {DURATION_S} s of simulated shop traffic (metrics, logs, "
        f"traces) through the embedded stack; database {url}"
    )
    out(f"  fault to inject: {FAULT.description} (s {FAULT.start_s:.0f}-{FAULT.end_s:.0f})")
    await stack.start()
    try:
        for tick in ScenarioRun(scenario).ticks():
            if tick.second == int(FAULT.start_s):
                out(f"[{time.monotonic() - began:6.1f}s] >>> injecting {FAULT.description}")
            await stack.bus.publish(TELEMETRY_TRACES, tick.spans)
            await stack.bus.publish(TELEMETRY_LOGS, tick.logs)
            await stack.bus.publish(TELEMETRY_METRICS, tick.metrics)
        await stack.bus.drain(timeout=300)
        await stack.api.sweeper.sweep_once()
        await stack.api.relay.relay_once()
        await stack.bus.drain(timeout=60)
        await _summary(stack, out)
    finally:
        await stack.stop()
    return 0


async def _summary(stack: EmbeddedStack, out: Callable[[str], None]) -> None:
    key = stack.api.create_key("demo", Role.VIEWER)  # the demo's database is its own
    transport = httpx.ASGITransport(app=cast(Any, stack.api.app))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers={"Authorization": f"Bearer {key}"}
    ) as api:
        items = (await api.get("/api/v1/incidents", params={"limit": 100})).json()["items"]
    out(f"Summary: {len(items)} incident(s) (GET /api/v1/incidents lists them).")
    for item in items:
        causes = item["root_causes"]
        top = (
            f"root cause: {causes[0]['service']} ({causes[0]['score']:.2f}) - {causes[0]['reason']}"
            if causes
            else f"root cause: {item['service']} (the only service)"
        )
        out(
            f"  {item['id'][:8]}  {item['status']:<9} {', '.join(item['services'])}\n"
            f"            {top}"
        )
