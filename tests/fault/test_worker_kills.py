"""SIGKILL each worker kind mid-stream: nothing accepted is lost, nothing is done twice.

ingest, detect and api run as one production topology (one process per service) on the
shared Kafka and a database of this module's own; each test streams its own services, so the
tests share the processes without sharing data. remediate runs on its own (its commands are
published by the test, not derived from incidents).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import _delete_topics
from tests.fault.conftest import FaultReport, FaultRow
from tests.fault.harness import (
    Sender,
    assert_detect_recovers,
    kafka_points,
    ledger,
)
from tests.integration.kafka_tools import group_lag, read_all, wait_for
from tests.integration.procs import ServiceProcess
from tests.integration.stack import SERIES, Stack, workload
from tests.integration.test_remediate_kafka import publish, run_command, wait_results

TICKS, FAULT = 320, range(200, 240)


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name = f"vigil_f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    prefix = f"f{uuid.uuid4().hex[:10]}."
    running = Stack(
        kafka_bootstrap,
        f"{pg_admin_url.rsplit('/', 1)[0]}/{name}",
        prefix,
        tmp_path_factory.mktemp("kills"),
    )
    try:
        for service in ("api", "ingest", "detect"):
            running.start(service)
        yield running
    finally:
        running.stop_all()
        _delete_topics(prefix)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _api_lag(stack: Stack) -> int | None:
    return group_lag(stack.kafka, f"{stack.prefix}vigil-api", f"{stack.prefix}anomalies")


def _settle(stack: Stack, service: str) -> dict[str, object]:
    """Wait for the service's incident to resolve and every consumer to catch up."""
    try:
        wait_for(lambda: stack.resolved(service), timeout_s=180, what=f"{service}'s incident")
        wait_for(lambda: stack.detect_lag() == 0, timeout_s=90, what="detect to commit all")
        wait_for(lambda: _api_lag(stack) == 0, timeout_s=90, what="the api to commit all")
    except AssertionError as exc:
        state = (stack.incidents(service), stack.detect_lag(), _api_lag(stack))
        raise AssertionError(f"{exc}; incidents, detect lag, api lag: {state}") from None
    (incident,) = stack.incidents(service)
    return incident


def _record(
    report: FaultReport,
    fault: str,
    stack: Stack,
    sender: Sender,
    service: str,
    recovery: float,
    note: str = "",
) -> None:
    """Count, record a row, and assert no loss and no duplicates."""
    books = ledger(sender.accepted, kafka_points(stack, {service}))
    incidents = stack.incidents(service)
    extra_incidents = max(0, len(incidents) - 1)
    report.add(
        FaultRow(
            fault,
            books.accepted,
            books.persisted,
            books.duplicates,
            extra_incidents,
            0,
            recovery,
            note=f"{sender.failed_requests} requests refused while down {note}".strip(),
        )
    )
    assert books.lost == 0 and books.duplicates == 0, books
    assert extra_incidents == 0, incidents
    # One firing and one recovered signal: a replayed anomaly was not recorded again.
    assert incidents[0]["signal_count"] == 2, incidents


def test_ingest_killed_mid_stream(stack: Stack, fault_report: FaultReport) -> None:
    service = "f-ingest"
    sender = Sender(stack, workload(service, ticks=TICKS, fault=FAULT)).start()
    wait_for(lambda: sender.sent_ticks >= 40, timeout_s=60, what="the stream to start")
    ingest = stack.procs["ingest"]
    ingest.kill()
    mark = sender.mark()
    ingest.start()
    ingest.wait_http_ready(f"{stack.ingest}/readyz")
    sender.join()
    recovered = sender.recovered(mark)
    assert recovered, "no request succeeded after the restart"
    assert sender.failed_requests > 0, "no request hit the dead ingest: nothing was tested"
    _settle(stack, service)
    _record(fault_report, "SIGKILL ingest", stack, sender, service, recovered - mark)


def test_detect_killed_mid_fault(stack: Stack, fault_report: FaultReport) -> None:
    service = "f-detect"
    batches = workload(service, ticks=TICKS, fault=FAULT)
    sender = Sender(stack, batches).start(upto=FAULT.start + 12)
    sender.join()
    wait_for(lambda: stack.incidents(service), timeout_s=120, what="the incident to open")
    detect = stack.procs["detect"]
    detect.kill()  # the series is firing; some of its offsets are not committed
    killed = time.monotonic()
    sender.start()  # the rest, while detect is down
    sender.join()
    detect.start()
    assert_detect_recovers(stack)  # by itself: the test never restarts it again
    _settle(stack, service)
    recovery = time.monotonic() - killed
    assert sender.failed_requests == 0
    _record(fault_report, "SIGKILL detect", stack, sender, service, recovery)
    assert len(sender.accepted) == TICKS * len(SERIES)


def test_api_killed_mid_fault(stack: Stack, fault_report: FaultReport) -> None:
    service = "f-api"
    batches = workload(service, ticks=TICKS, fault=FAULT)
    sender = Sender(stack, batches).start(upto=FAULT.start + 12)
    sender.join()
    wait_for(lambda: stack.incidents(service), timeout_s=120, what="the incident to open")
    api = stack.procs["api"]
    api.kill()  # anomalies keep coming; their offsets stay uncommitted until it is back
    killed = time.monotonic()
    sender.start()
    sender.join()
    wait_for(lambda: (_api_lag(stack) or 0) > 0, timeout_s=60, what="anomalies to wait for the api")
    api.start()
    api.wait_http_ready(f"{stack.api}/readyz")
    _settle(stack, service)
    recovery = time.monotonic() - killed
    _record(fault_report, "SIGKILL api", stack, sender, service, recovery)
    assert len(sender.accepted) == TICKS * len(SERIES)


def test_remediate_killed_mid_action(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, fault_report: FaultReport
) -> None:
    slow, quick = tmp_path / "slow.sh", tmp_path / "quick.sh"
    slow.write_text('#!/bin/sh\necho ran >> "$1"\nexec sleep 15\n')
    quick.write_text('#!/bin/sh\necho ran >> "$1"\n')
    for script in (slow, quick):
        script.chmod(0o755)
    env = {
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "VIGIL_TOPIC_PREFIX": topic_prefix,
        "VIGIL_REMEDIATE_COMMANDS": json.dumps({"slow": str(slow), "quick": str(quick)}),
    }
    worker = ServiceProcess("remediate", env, tmp_path, label="remediate-1").start()
    slow_marker, quick_marker = tmp_path / "slow.ran", tmp_path / "quick.ran"
    try:
        publish(kafka_bootstrap, topic_prefix, run_command("c-slow", "slow", slow_marker))
        wait_for(slow_marker.exists, timeout_s=180, what="the slow action to start")
        worker.kill()  # mid-action
        killed = time.monotonic()
        worker = ServiceProcess("remediate", env, tmp_path, label="remediate-2").start()
        wait_results(kafka_bootstrap, topic_prefix, 1, worker)
        recovery = time.monotonic() - killed
        # The interrupted command and a normal one, both delivered again / twice.
        publish(
            kafka_bootstrap,
            topic_prefix,
            run_command("c-slow", "slow", slow_marker),
            run_command("c-quick", "quick", quick_marker),
            run_command("c-quick", "quick", quick_marker),
        )
        found = wait_results(kafka_bootstrap, topic_prefix, 4, worker)
        time.sleep(2)  # a fifth (wrong) result would arrive about now
        found = [
            json.loads(m.value)
            for m in read_all(kafka_bootstrap, f"{topic_prefix}remediation.results")
        ]
    finally:
        worker.stop()
    runs = {
        "c-slow": slow_marker.read_text().count("ran"),
        "c-quick": quick_marker.read_text().count("ran"),
    }
    decided = {r["command_id"] for r in found}
    fault_report.add(
        FaultRow(
            "SIGKILL remediate mid-action",
            accepted=len(runs),
            persisted=len(decided),
            duplicates=len(found) - 4,
            duplicate_incidents=0,
            duplicate_actions=sum(n - 1 for n in runs.values()),
            recovery_s=recovery,
            note="interrupted action reported, never re-run",
        )
    )
    assert runs == {"c-slow": 1, "c-quick": 1}
    assert [(r["command_id"], r["status"]) for r in found] == [
        ("c-slow", "interrupted"),
        ("c-slow", "interrupted"),
        ("c-quick", "succeeded"),
        ("c-quick", "succeeded"),
    ]
