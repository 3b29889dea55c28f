"""The vertical slice on real Kafka and PostgreSQL, each service in its own process.

JSON metrics -> ingest (HTTP) -> telemetry.metrics -> detect (Faust agent) -> anomalies ->
api (correlation, PostgreSQL) -> GET /api/v1/incidents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.kafka_tools import wait_for
from tests.integration.stack import SERIES, Stack, workload

TICKS, FAULT = 260, range(140, 180)


@pytest.fixture
def stack(kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    for name in ("api", "ingest", "detect"):
        running.start(name)
    yield running
    running.stop_all()


def test_metrics_in_incident_opened_and_resolved_out(stack: Stack) -> None:
    accepted = stack.send(workload("checkout", ticks=TICKS, fault=FAULT))
    assert accepted == TICKS * len(SERIES)
    wait_for(
        lambda: stack.resolved("checkout"), timeout_s=120, what="the incident to open and resolve"
    )
    incidents = stack.incidents("checkout")
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["firing"] == []
    assert incident["title"] == "latency anomalous on checkout"
    timeline = httpx.get(
        f"{stack.api}/api/v1/incidents/{incident['id']}/timeline", headers=stack.headers
    ).json()
    kinds = [entry["kind"] for entry in timeline]
    assert kinds[:2] == ["anomaly.firing", "incident.opened"]
    assert kinds[-1] == "incident.resolved"
    explanation = timeline[0]["detail"]["explanation"]
    assert explanation["observed"] > explanation["upper"]
    # Everything ingest acknowledged is in Kafka, exactly once.
    assert len(stack.events("telemetry.metrics")) == accepted
    # The incident changes went out on the incidents topic (via the outbox).
    wait_for(
        lambda: [m for m in stack.topic("incidents") if b'"resolved"' in m.value],
        timeout_s=30,
        what="the resolved event on the incidents topic",
    )


def test_detect_killed_mid_stream_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    batches = workload("payments", ticks=TICKS, fault=FAULT)
    detect = stack.procs["detect"]
    sent = stack.send(batches[: FAULT.start + 10])
    wait_for(
        lambda: stack.incidents("payments"),
        timeout_s=120,
        what="the incident to open before the kill",
    )
    detect.kill()  # mid-fault: the series is firing and its offsets are partly uncommitted
    sent += stack.send(batches[FAULT.start + 10 :])
    detect.start()
    wait_for(
        lambda: stack.resolved("payments"),
        timeout_s=180,
        what="the incident to resolve after the restart",
    )
    wait_for(
        lambda: stack.detect_lag() == 0,
        timeout_s=60,
        what="the detect group to commit every offset",
    )
    assert sent == TICKS * len(SERIES)
    assert len(stack.events("telemetry.metrics")) == sent
    incidents = stack.incidents("payments")
    assert len(incidents) == 1, incidents
    assert incidents[0]["status"] == "resolved"
    assert incidents[0]["signal_count"] == 2  # one firing, one resolved: no replayed duplicates
    assert detect.starts == 2
