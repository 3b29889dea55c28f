"""The vertical slice on real Kafka and PostgreSQL, each service in its own process.

JSON metrics -> ingest (HTTP) -> telemetry.metrics -> detect (Faust agent) -> anomalies ->
api (correlation, PostgreSQL) -> GET /api/v1/incidents.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import migrations
from tests.integration.kafka_tools import group_lag, read_all, wait_for
from tests.integration.procs import ServiceProcess, free_port

TICKS, FAULT = 260, range(140, 180)
SERIES = ("latency", "errors", "cpu")


def _workload(service: str) -> list[list[dict[str, Any]]]:
    """One batch per tick: three series of `service`, `latency` faulty during FAULT."""
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = []
    for tick in range(TICKS):
        at = (start + timedelta(seconds=10 * tick)).isoformat()
        batch = []
        for name in SERIES:
            value = 100 + rng.gauss(0, 2)
            if name == "latency" and tick in FAULT:
                value *= 5
            batch.append(
                {"name": name, "labels": {"service": service}, "value": value, "timestamp": at}
            )
        ticks.append(batch)
    return ticks


@pytest.fixture
def stack(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    migrations.upgrade(pg_url)
    api_port, ingest_port = free_port(), free_port()
    env = {
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "VIGIL_DATABASE_URL": pg_url,
        "VIGIL_TOPIC_PREFIX": topic_prefix,
        "VIGIL_API_PORT": str(api_port),
        "VIGIL_INGEST_PORT": str(ingest_port),
        "VIGIL_LOG_LEVEL": "INFO",
    }
    procs = {name: ServiceProcess(name, env, tmp_path) for name in ("api", "ingest", "detect")}
    for proc in procs.values():
        proc.start()
    procs["api"].wait_http_ready(f"http://127.0.0.1:{api_port}/readyz")
    procs["ingest"].wait_http_ready(f"http://127.0.0.1:{ingest_port}/readyz")
    yield {
        "procs": procs,
        "api": f"http://127.0.0.1:{api_port}",
        "ingest": f"http://127.0.0.1:{ingest_port}",
        "prefix": topic_prefix,
        "kafka": kafka_bootstrap,
    }
    for proc in procs.values():
        proc.stop()


def _send(ingest: str, batches: list[list[dict[str, Any]]]) -> int:
    accepted = 0
    with httpx.Client(base_url=ingest, timeout=30) as client:
        for i in range(0, len(batches), 10):
            points = [p for batch in batches[i : i + 10] for p in batch]
            response = client.post("/v1/json/metrics", json={"points": points})
            assert response.status_code == 200, response.text
            accepted += response.json()["accepted"]
    return accepted


def _incidents(api: str, service: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{api}/api/v1/incidents", params={"service": service}, timeout=10)
    response.raise_for_status()
    return list(response.json()["items"])


def _detect_caught_up(stack: dict[str, Any]) -> bool:
    lag = group_lag(
        stack["kafka"], f"{stack['prefix']}vigil-detect", f"{stack['prefix']}telemetry.metrics"
    )
    return lag == 0


def test_metrics_in_incident_opened_and_resolved_out(stack: dict[str, Any]) -> None:
    service = "checkout"
    accepted = _send(stack["ingest"], _workload(service))
    assert accepted == TICKS * len(SERIES)
    wait_for(
        lambda: [i for i in _incidents(stack["api"], service) if i["status"] == "resolved"],
        timeout_s=120,
        what="the incident to open and resolve",
    )
    incidents = _incidents(stack["api"], service)
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["firing"] == []
    assert incident["title"] == "latency anomalous on checkout"
    timeline = httpx.get(f"{stack['api']}/api/v1/incidents/{incident['id']}/timeline").json()
    kinds = [entry["kind"] for entry in timeline]
    assert kinds[:2] == ["anomaly.firing", "incident.opened"]
    assert kinds[-1] == "incident.resolved"
    explanation = timeline[0]["detail"]["explanation"]
    assert explanation["observed"] > explanation["upper"]
    # Everything ingest acknowledged is in Kafka, exactly once.
    assert len(read_all(stack["kafka"], f"{stack['prefix']}telemetry.metrics")) == accepted
    # The incident changes went out on the incidents topic (via the outbox).
    events = wait_for(
        lambda: [
            m
            for m in read_all(stack["kafka"], f"{stack['prefix']}incidents")
            if b'"resolved"' in m.value
        ],
        timeout_s=30,
        what="the resolved event on the incidents topic",
    )
    assert events


def test_detect_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    stack: dict[str, Any],
) -> None:
    service = "payments"
    batches = _workload(service)
    detect: ServiceProcess = stack["procs"]["detect"]
    sent = _send(stack["ingest"], batches[: FAULT.start + 10])
    wait_for(
        lambda: _incidents(stack["api"], service),
        timeout_s=120,
        what="the incident to open before the kill",
    )
    detect.kill()  # mid-fault: the series is firing and its offsets are partly uncommitted
    sent += _send(stack["ingest"], batches[FAULT.start + 10 :])
    detect.start()
    wait_for(
        lambda: [i for i in _incidents(stack["api"], service) if i["status"] == "resolved"],
        timeout_s=180,
        what="the incident to resolve after the restart",
    )
    wait_for(
        lambda: _detect_caught_up(stack),
        timeout_s=60,
        what="the detect group to commit every offset",
    )
    assert sent == TICKS * len(SERIES)
    assert len(read_all(stack["kafka"], f"{stack['prefix']}telemetry.metrics")) == sent
    incidents = _incidents(stack["api"], service)
    assert len(incidents) == 1, incidents
    assert incidents[0]["status"] == "resolved"
    assert incidents[0]["signal_count"] == 2  # one firing, one resolved: no replayed duplicates
    assert detect.starts == 2
