"""Logs and traces through the production detect process on real Kafka.

LogRecords and Spans published to telemetry.logs / telemetry.traces -> detect (Faust agents)
-> anomalies (a new error template, quoted) and topology (the dependency graph); templates
survive a restart of detect through its state store.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.core.bus.kafka import KafkaBus
from services.core.events import Event, LogRecord, Severity, Span
from services.core.topics import TELEMETRY_LOGS, TELEMETRY_TRACES, Topic
from tests.integration.kafka_tools import wait_for
from tests.integration.stack import Stack

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def stack(kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    running.start("detect")
    yield running
    running.stop_all()


def publish(stack: Stack, topic: Topic, events: Sequence[Event]) -> None:
    async def send() -> None:
        bus = KafkaBus([stack.kafka], client_id="logs-traces-test", topic_prefix=stack.prefix)
        await bus.start()
        try:
            for i in range(0, len(events), 500):
                await bus.publish(topic, events[i : i + 500])
        finally:
            await bus.stop()

    asyncio.run(send())


def logs(seconds: range, body: str, severity: Severity = Severity.INFO) -> list[LogRecord]:
    return [
        LogRecord(
            timestamp=START + timedelta(seconds=s),
            service="payments",
            severity=severity,
            body=body.format(s),
        )
        for s in seconds
    ]


def new_template_anomalies(stack: Stack) -> list[dict[str, object]]:
    found = [json.loads(m.value) for m in stack.topic("anomalies")]
    return [a for a in found if a["detector"] == "log_new_template" and a["status"] == "firing"]


def test_new_error_template_is_reported_and_remembered_across_a_restart(stack: Stack) -> None:
    publish(stack, TELEMETRY_LOGS, logs(range(0, 700), "GET /charge/{} 200 12ms"))
    publish(stack, TELEMETRY_LOGS, logs(range(700, 703), "gateway {} exploded", Severity.ERROR))
    [anomaly] = wait_for(
        lambda: new_template_anomalies(stack), timeout_s=90, what="a new-template anomaly"
    )
    assert anomaly["kind"] == "log" and anomaly["service"] == "payments"
    detail = anomaly["explanation"]["detail"]  # type: ignore[index]
    assert '"gateway <*> exploded"' in detail and '"gateway 700 exploded"' in detail

    stack.procs["detect"].stop()
    stack.start("detect")
    publish(stack, TELEMETRY_LOGS, logs(range(703, 800), "GET /charge/{} 200 12ms"))
    publish(stack, TELEMETRY_LOGS, logs(range(800, 805), "gateway {} exploded", Severity.ERROR))
    publish(stack, TELEMETRY_LOGS, logs(range(805, 808), "vault {} sealed", Severity.ERROR))
    wait_for(
        lambda: len(new_template_anomalies(stack)) >= 2,
        timeout_s=90,
        what="the second new template after the restart",
    )
    services = [str(a["series"]) for a in new_template_anomalies(stack)]
    assert len(services) == 2  # the restored template did not fire again


def test_dependency_graph_is_published_on_the_topology_topic(stack: Stack) -> None:
    spans = []
    for s in range(120):
        start = START + timedelta(seconds=s)
        spans.append(
            Span(
                trace_id=f"t{s}",
                span_id=f"c{s}",
                parent_span_id=f"f{s}",
                service="checkout",
                operation="POST /orders",
                start=start,
                duration_ms=20,
            )
        )
        spans.append(
            Span(
                trace_id=f"t{s}",
                span_id=f"f{s}",
                service="frontend",
                operation="POST /checkout",
                start=start,
                duration_ms=25,
            )
        )
    publish(stack, TELEMETRY_TRACES, spans)

    def edges() -> list[tuple[str, str]]:
        snapshots = [json.loads(m.value) for m in stack.topic("topology")]
        return [(e["caller"], e["callee"]) for s in snapshots for e in s["edges"]]

    found = wait_for(edges, timeout_s=90, what="a topology snapshot")
    assert ("frontend", "checkout") in found
