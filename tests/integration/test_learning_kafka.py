"""Shadow, promote and rollback on real Kafka and PostgreSQL, one process per service.

REST -> outbox -> `models.control` (read in full by every detect worker, outside its consumer
group) -> the detect process scores the candidate in shadow -> `models.shadow` and `models`
-> api (PostgreSQL) -> comparison and model records over REST. A restarted detect process
reads the control topic again and keeps the promoted version.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.core.events import ModelReport
from tests.integration.kafka_tools import wait_for
from tests.integration.stack import Stack

SERIES = 'cpu{service="shop"}'
SENSITIVE = {
    "params": {
        "fire_threshold": 0.5,
        "band_fire_threshold": 0.5,
        "sustain_threshold": 0.5,
        "fire_after": 1,
    }
}


def _ticks(first: int, count: int, spikes: dict[int, float]) -> list[list[dict[str, Any]]]:
    rng = random.Random(first)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        [
            {
                "name": "cpu",
                "labels": {"service": "shop"},
                "value": 100 + rng.gauss(0, 1) + spikes.get(i, 0.0),
                "timestamp": (start + timedelta(seconds=10 * i)).isoformat(),
            }
        ]
        for i in range(first, first + count)
    ]


@pytest.fixture
def stack(kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    for name in ("api", "ingest", "detect"):
        running.start(name)
    yield running
    running.stop_all()


def _get(stack: Stack, path: str) -> Any:
    response = httpx.get(f"{stack.api}{path}", headers=stack.headers, timeout=10)
    response.raise_for_status()
    return response.json()


def _post(stack: Stack, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{stack.api}{path}", json=body or {}, headers=stack.headers, timeout=10)


def _record_version(stack: Stack, points: int = 0) -> int | None:
    """The version in the series' model record, once it covers at least `points` points."""
    for record in _get(stack, "/api/v1/models")["items"]:
        if record["series"] == SERIES and record["points"] >= points:
            return int(record["version"])
    return None


def test_shadow_promote_and_rollback_on_kafka(stack: Stack) -> None:
    stack.send(_ticks(0, 280, {}))
    # Reported at checkpoints (every 50 points of the series): the last one covers 250.
    wait_for(lambda: _record_version(stack, 250) == 0, timeout_s=120, what="a model record")

    started = _post(stack, "/api/v1/models/candidates", SENSITIVE)
    assert started.status_code == 201, started.text
    run = started.json()["id"]
    # Points until the shadow reports: the worker applies the control between two points.
    next_tick = 280
    for _ in range(20):
        stack.send(_ticks(next_tick, 20, {next_tick + 10: 8.0}))
        next_tick += 20
        comparison = _get(stack, f"/api/v1/models/candidates/{run}/comparison")
        if comparison["shadow_anomalies"]:
            break
    comparison = wait_for(
        lambda: (
            (c := _get(stack, f"/api/v1/models/candidates/{run}/comparison"))["shadow_firings"]
            and c
        ),
        timeout_s=60,
        what="shadow firings in the comparison",
    )
    assert comparison["workers"] >= 1 and comparison["points"] > 0
    assert comparison["recent_shadow_anomalies"][0]["detector"].startswith("shadow:")
    assert stack.incidents("shop") == []  # shadow anomalies never become incidents

    promoted = _post(stack, f"/api/v1/models/candidates/{run}/promote")
    assert promoted.status_code == 200, promoted.text
    stack.send(_ticks(next_tick, 60, {}))
    next_tick += 60
    wait_for(
        lambda: _record_version(stack) == 1,
        timeout_s=120,
        what="the promoted version in the model record",
    )

    # A restarted worker reads models.control from the beginning: still version 1. Its first
    # checkpoint of the series reports it again (a new process reports every series once).
    before = len(stack.events("models"))
    stack.procs["detect"].stop()
    stack.start("detect")
    stack.send(_ticks(next_tick, 120, {}))
    next_tick += 120
    after = wait_for(
        lambda: stack.events("models")[before:],
        timeout_s=180,
        what="a model report from the restarted worker",
    )
    assert all(isinstance(r, ModelReport) and r.version == 1 for r in after), after

    rolled = _post(stack, "/api/v1/models/rollback")
    assert rolled.status_code == 200 and rolled.json()["version"] == 0
    stack.send(_ticks(next_tick, 60, {}))
    next_tick += 60
    wait_for(
        lambda: _record_version(stack) == 0,
        timeout_s=120,
        what="the rolled-back version in the model record",
    )
    audit = _get(stack, "/api/v1/audit")
    actions = [entry["action"] for entry in audit["items"]]
    assert {"models.shadow_start", "models.promote", "models.rollback"} <= set(actions)
