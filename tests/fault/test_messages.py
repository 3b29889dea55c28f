"""Hostile and repeated messages: a poison message in every topic, every event delivered twice.

A poison message goes to `<topic>.dlq` with the reason and its consumer carries on with the
next message; an event delivered twice is stored, and acted on, once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator, Sequence

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from sqlalchemy import create_engine, text

from services.core.bus.kafka import KafkaBus
from services.core.events import Event, MetricPoint
from services.core.topics import (
    ALERTS_EXTERNAL,
    ALL_TOPICS,
    ANOMALIES,
    TELEMETRY_METRICS,
    Topic,
)
from tests.conftest import _delete_topics
from tests.factories import alert, anomaly
from tests.fault.conftest import FaultReport, FaultRow
from tests.fault.harness import identity, kafka_points, ledger
from tests.integration.kafka_tools import read_all, wait_for
from tests.integration.stack import SERIES, Stack, workload

# Topics a consumer group of the topology reads: each must dead-letter a poison message.
# (More are found at run time from the groups' committed offsets.)
CONSUMED = {
    "telemetry.metrics",
    "telemetry.logs",
    "telemetry.traces",
    "anomalies",
    "alerts.external",
    "topology",
    "incidents",
    "remediation.requests",
    "remediation.results",
    "remediation.commands",
    "remediation.control",
    "notifications",
    "notifications.results",
}
POISON = b'{"this is": not json'


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name = f"vigil_f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    prefix = f"f{uuid.uuid4().hex[:10]}."
    log_dir = tmp_path_factory.mktemp("messages")
    running = Stack(kafka_bootstrap, f"{pg_admin_url.rsplit('/', 1)[0]}/{name}", prefix, log_dir)
    running.env["VIGIL_REMEDIATE_COMMANDS"] = json.dumps({"true": "/bin/true"})
    try:
        for service in ("api", "ingest", "detect", "remediate"):
            running.start(service)
        yield running
    finally:
        running.stop_all()
        _delete_topics(prefix)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def publish(stack: Stack, topic: Topic, events: Sequence[Event]) -> None:
    async def send() -> None:
        bus = KafkaBus([stack.kafka], client_id="fault-tests", topic_prefix=stack.prefix)
        await bus.start()
        try:
            for i in range(0, len(events), 500):
                await bus.publish(topic, events[i : i + 500])
        finally:
            await bus.stop()

    asyncio.run(send())


def publish_raw(stack: Stack, records: list[tuple[str, bytes]]) -> None:
    async def send() -> None:
        bus = KafkaBus([stack.kafka], client_id="fault-tests-raw", topic_prefix=stack.prefix)
        await bus.start()
        try:
            for topic, value in records:
                await bus.publish_raw(topic, b"poison", value)
        finally:
            await bus.stop()

    asyncio.run(send())


def _group_topics(stack: Stack) -> set[str]:
    """Topics some consumer group of this stack has committed offsets on."""
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka, client_id="fault-tests")
    try:
        groups = [g["group_id"] for g in admin.list_groups()]
    finally:
        admin.close()
    topics = set()
    for group in (g for g in groups if g.startswith(stack.prefix)):
        consumer = KafkaConsumer(
            bootstrap_servers=stack.kafka, group_id=group, enable_auto_commit=False
        )
        try:
            for topic in ALL_TOPICS:
                name = stack.prefix + topic.name
                partitions = consumer.partitions_for_topic(name) or set()
                if any(consumer.committed(TopicPartition(name, p)) for p in partitions):
                    topics.add(topic.name)
        finally:
            consumer.close()
    return topics


def _letters(stack: Stack, topic: str) -> list[dict[str, object]]:
    return [json.loads(m.value) for m in read_all(stack.kafka, f"{stack.prefix}{topic}.dlq")]


def test_a_poison_message_in_every_topic_is_dead_lettered_and_consumers_carry_on(
    stack: Stack, fault_report: FaultReport
) -> None:
    known = {t.name for t in ALL_TOPICS}
    assert CONSUMED <= known, CONSUMED - known
    began = time.monotonic()
    publish_raw(stack, [(t.name, POISON) for t in ALL_TOPICS])

    wait_for(
        lambda: all(_letters(stack, t) for t in CONSUMED),
        timeout_s=120,
        what="a dead letter for every consumed topic",
        interval_s=2,
    )
    recovery = time.monotonic() - began
    # Consumers added later (not in CONSUMED) must dead-letter too: every topic a group of
    # the topology committed an offset on (past the poison) has its letter by now.
    consumed = CONSUMED | _group_topics(stack)
    missing = {t for t in consumed if not _letters(stack, t)}
    assert not missing, f"consumed but no dead letter: {missing}"
    for topic in consumed:
        for letter in _letters(stack, topic):
            assert letter["topic"] == topic
            assert letter["payload"] == POISON.decode()
            assert letter["reason"], letter
    # Every consumer carries on: the whole pipeline still works after the poison.
    service = "f-after-poison"
    batches = workload(service, ticks=260, fault=range(140, 180))
    accepted = stack.send(batches)
    wait_for(lambda: stack.resolved(service), timeout_s=180, what="the incident after poison")
    assert all(p.alive() for p in stack.procs.values())
    (incident,) = stack.incidents(service)
    books = ledger([identity(p) for b in batches for p in b], kafka_points(stack, {service}))
    fault_report.add(
        FaultRow(
            f"poison message in {len(ALL_TOPICS)} topics",
            accepted=books.accepted,
            persisted=books.persisted,
            duplicates=books.duplicates,
            duplicate_incidents=0,
            duplicate_actions=0,
            recovery_s=recovery,
            note=f"{len(consumed)} consumed topics dead-lettered (not consumed by a group: "
            f"{', '.join(sorted(known - consumed))}); then a fault detected",
        )
    )
    assert accepted == 260 * len(SERIES) == books.persisted
    assert incident["signal_count"] == 2


def _out_of_order(stack: Stack) -> float:
    """Points detect skipped as late or repeated (its /metrics)."""
    port = stack.procs["detect"].ops_port
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
        if line.startswith("vigil_detect_out_of_order_total "):
            return float(line.split()[1])
    raise AssertionError("detect does not export vigil_detect_out_of_order")


def test_every_event_delivered_twice_is_stored_once(
    stack: Stack, fault_report: FaultReport
) -> None:
    # Telemetry: each batch of points published twice, the second copy right after the first.
    service = "f-dup-metrics"
    batches = workload(service, ticks=260, fault=range(140, 180))
    points = [
        MetricPoint.model_validate({**p, "timestamp": p["timestamp"]}) for b in batches for p in b
    ]
    skipped_before = _out_of_order(stack)
    began = time.monotonic()
    for i in range(0, len(points), 30):
        chunk = points[i : i + 30]
        publish(stack, TELEMETRY_METRICS, chunk + chunk)
    # Signals: the same anomalies and the same external alert, each published twice.
    signals = [
        anomaly("firing", service="f-dup-anomaly", series='latency{service="f-dup-anomaly"}'),
        anomaly(
            "resolved",
            service="f-dup-anomaly",
            series='latency{service="f-dup-anomaly"}',
            minute=5,
        ),
    ]
    publish(stack, ANOMALIES, signals)
    publish(stack, ANOMALIES, signals)
    alerts = [alert("firing", service="f-dup-alert", fingerprint="dup-1")]
    publish(stack, ALERTS_EXTERNAL, alerts + alerts)

    wait_for(lambda: stack.resolved(service), timeout_s=180, what="the telemetry incident")
    wait_for(lambda: stack.resolved("f-dup-anomaly"), timeout_s=60, what="the anomaly incident")
    wait_for(lambda: stack.incidents("f-dup-alert"), timeout_s=60, what="the alert incident")
    recovery = time.monotonic() - began
    wait_for(lambda: stack.detect_lag() == 0, timeout_s=90, what="detect to commit all")
    time.sleep(2)  # a second (wrong) incident would be opened about now
    incidents = {s: stack.incidents(s) for s in (service, "f-dup-anomaly", "f-dup-alert")}
    extra = sum(len(found) - 1 for found in incidents.values())
    stored = kafka_points(stack, {service})
    skipped = _out_of_order(stack) - skipped_before
    fault_report.add(
        FaultRow(
            "duplicate deliveries (x2)",
            accepted=len(points) + len(signals) + len(alerts),
            persisted=len(stored)
            + sum(
                i["signal_count"] for s in ("f-dup-anomaly", "f-dup-alert") for i in incidents[s]
            ),
            duplicates=len(points) - int(skipped),
            duplicate_incidents=extra,
            duplicate_actions=0,
            recovery_s=recovery,
            note=f"{int(skipped)} repeated points skipped by detect; signals recorded once",
        )
    )
    assert extra == 0, incidents
    assert len(stored) == len(points) and set(stored.values()) == {2}  # both copies delivered
    assert skipped == len(points)  # every second copy recognised, none learned twice
    # Detect learned each point once: one firing and one resolved anomaly, not two of each.
    assert incidents[service][0]["signal_count"] == 2
    assert incidents["f-dup-anomaly"][0]["signal_count"] == 2
    assert incidents["f-dup-alert"][0]["signal_count"] == 1
