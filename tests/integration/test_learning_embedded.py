"""The learning loop end to end in the embedded stack (every service, in-memory bus, SQLite).

Shadow, promote and rollback go from the REST API through the outbox and `models.control` to
the detect worker, whose shadow results come back through `models.shadow`; operator feedback
goes from the API through `feedback` into the series' state and its checkpoint.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.api.auth.roles import Role
from services.core.events import MetricPoint
from services.core.topics import TELEMETRY_METRICS
from services.detect.monitor import MetricsMonitor
from services.embedded import EmbeddedStack

START = datetime(2026, 1, 1, tzinfo=UTC)
KEY = 'default/cpu{service="shop"}'
SENSITIVE = {
    "params": {
        "fire_threshold": 0.5,
        "band_fire_threshold": 0.5,
        "sustain_threshold": 0.5,
        "fire_after": 1,
    },
    "comment": "fire on single spikes",
}


def _points(first: int, count: int, spikes: dict[int, float], seed: int = 3) -> list[MetricPoint]:
    rng = random.Random(seed * 1000 + first)
    return [
        MetricPoint(
            name="cpu",
            labels={"service": "shop"},
            value=100 + rng.gauss(0, 1) + spikes.get(i, 0.0),
            timestamp=START + timedelta(seconds=10 * i),
        )
        for i in range(first, first + count)
    ]


async def _until(
    check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 10
) -> None:
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover - the timeout raises first


async def _send(stack: EmbeddedStack, points: list[MetricPoint]) -> None:
    await stack.bus.publish(TELEMETRY_METRICS, points)
    await stack.bus.drain(timeout=20)


def _run(
    tmp_path: Path, body: Callable[[EmbeddedStack, httpx.AsyncClient, dict[str, str]], Any]
) -> None:
    async def scenario() -> None:
        stack = EmbeddedStack.build(f"sqlite:///{tmp_path}/vigil.db")
        await stack.start()
        try:
            headers = {"Authorization": f"Bearer {stack.api.create_key('ops', Role.ADMIN)}"}
            transport = httpx.ASGITransport(app=stack.api.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                await body(stack, client, headers)
        finally:
            await stack.stop()

    asyncio.run(scenario())


def test_shadow_promote_and_rollback_reach_the_detect_worker(tmp_path: Path) -> None:
    async def body(stack: EmbeddedStack, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        monitor: MetricsMonitor = stack.detect.monitor
        await _send(stack, _points(0, 280, {}))
        started = await client.post("/api/v1/models/candidates", json=SENSITIVE, headers=admin)
        assert started.status_code == 201, started.text
        run = started.json()["id"]
        await _until(lambda: monitor.shadow is not None, "the worker never started the shadow")
        assert monitor.shadow is not None and monitor.shadow.run == run
        assert monitor.version == 0 and monitor.policy.fire_after == 2

        # A single spike: the sensitive shadow fires, the live configuration does not.
        await _send(stack, _points(280, 40, {300: 8.0}))

        async def compared() -> bool:
            found = await client.get(f"/api/v1/models/candidates/{run}/comparison", headers=admin)
            return bool(found.json()["shadow_anomalies"])

        await _until(compared, "no shadow anomaly reached the api")
        comparison = (
            await client.get(f"/api/v1/models/candidates/{run}/comparison", headers=admin)
        ).json()
        assert comparison["shadow_firings"] >= 1 and comparison["live_firings"] == 0
        assert comparison["recent_shadow_anomalies"][0]["detector"].startswith("shadow:")
        incidents = (await client.get("/api/v1/incidents", headers=admin)).json()["items"]
        assert incidents == []  # shadow anomalies never become incidents

        promoted = await client.post(f"/api/v1/models/candidates/{run}/promote", headers=admin)
        assert promoted.status_code == 200, promoted.text
        await _until(lambda: monitor.version == 1, "the promotion never reached the worker")
        assert monitor.policy.fire_after == 1 and monitor.shadow is None

        # Now live: the same kind of spike opens an incident, and model records say version 1.
        await _send(stack, _points(320, 60, {340: 8.0}))

        async def incident_opened() -> bool:
            found = await client.get("/api/v1/incidents", headers=admin)
            return bool(found.json()["items"])

        await _until(incident_opened, "the promoted configuration did not alert")

        async def recorded_v1() -> bool:
            page = (await client.get("/api/v1/models", headers=admin)).json()
            return any(r["version"] == 1 for r in page["items"])

        await _until(recorded_v1, "no model record of version 1")
        record = (await client.get("/api/v1/models", headers=admin)).json()["items"][0]
        assert record["series"] == 'cpu{service="shop"}' and record["params"]["fire_after"] == 1
        assert record["checkpoint_at"] is not None

        rolled = await client.post("/api/v1/models/rollback", json={}, headers=admin)
        assert rolled.status_code == 200 and rolled.json()["version"] == 0
        await _until(lambda: monitor.version == 0, "the rollback never reached the worker")
        assert monitor.policy.fire_after == 2

    _run(tmp_path, body)


def test_operator_feedback_reaches_the_series_and_its_checkpoint(tmp_path: Path) -> None:
    async def body(stack: EmbeddedStack, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        await _send(stack, _points(0, 320, {300: 12.0, 301: 12.0, 302: 12.0, 303: 12.0}))

        async def incident() -> str | None:
            items = (await client.get("/api/v1/incidents", headers=admin)).json()["items"]
            return items[0]["id"] if items else None

        await _until(incident, "the spike opened no incident")
        incident_id = await incident()
        given = await client.post(
            f"/api/v1/incidents/{incident_id}/feedback",
            json={"label": "false_positive", "comment": "nightly batch"},
            headers=admin,
        )
        assert given.status_code == 201, given.text
        learning = stack.detect.learning
        assert learning is not None
        await _until(lambda: learning.ledger.for_series(KEY), "feedback never reached detect")
        # The series learns it on its next point, and the next checkpoint holds it.
        await _send(stack, _points(320, 60, {}))
        adaptation = stack.detect.monitor.series[KEY].adaptation
        assert adaptation.false_positives == 1 and adaptation.applied == [given.json()["id"]]
        blob = stack.detect.store.get(KEY)
        assert blob is not None
        restored = MetricsMonitor()
        assert restored.restore(KEY, blob)
        assert restored.series[KEY].adaptation.applied == [given.json()["id"]]

    _run(tmp_path, body)
