"""Infrastructure outages under load: the Kafka broker restarts, PostgreSQL is down for 60 s.

Both run on private instances started by the test (scripts/kafka.sh, scripts/postgres.sh on
free ports), never on the shared ones other test runs use.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.fault.conftest import FaultReport, FaultRow, PrivateBroker, PrivatePostgres
from tests.fault.harness import (
    Sender,
    assert_detect_recovers,
    duplicate_incidents,
    kafka_points,
    ledger,
    uncommitted,
)
from tests.integration.kafka_tools import wait_for
from tests.integration.stack import Stack, workload

TICKS, FAULT = 320, range(200, 240)
OUTAGE_S = 60


def _api_lag(stack: Stack) -> int:
    return uncommitted(stack.kafka, f"{stack.prefix}vigil-api", f"{stack.prefix}anomalies")


def _settled(stack: Stack, service: str) -> None:
    wait_for(lambda: stack.resolved(service), timeout_s=180, what=f"{service}'s incident")
    wait_for(lambda: stack.detect_lag() == 0, timeout_s=90, what="detect to commit all")
    wait_for(lambda: _api_lag(stack) == 0, timeout_s=90, what="the api to commit all")


def _ready(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_postgres_down_for_a_minute_under_load(
    kafka_bootstrap: str,
    topic_prefix: str,
    private_postgres: PrivatePostgres,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    stack = Stack(kafka_bootstrap, private_postgres.url, topic_prefix, tmp_path)
    service = "f-postgres"
    try:
        for name in ("api", "ingest", "detect"):
            stack.start(name)
        # The baseline, then the database goes away; the fault and its recovery are sent
        # while it is down, paced over most of the outage.
        sender = Sender(stack, workload(service, ticks=TICKS, fault=FAULT), pause_s=0.5)
        sender.start(upto=150).join()
        private_postgres.run("down")
        down_at = time.monotonic()
        sender.start()
        wait_for(
            lambda: _ready(f"{stack.api}/readyz") == 503,
            timeout_s=30,
            what="the api to report the database unready",
        )
        unavailable = httpx.get(f"{stack.api}/api/v1/incidents", headers=stack.headers, timeout=30)
        assert unavailable.status_code == 503, unavailable.text  # not a 500
        assert unavailable.headers["Retry-After"]
        sender.join()
        assert sender.failed_requests == 0, sender.statuses  # ingest needs only Kafka
        wait_for(
            lambda: _api_lag(stack) > 0,
            timeout_s=60,
            what="anomalies to wait, uncommitted, for the database",
        )
        assert all(p.alive() for p in stack.procs.values()), "a process died with the database"
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        lag_during = _api_lag(stack)
        private_postgres.run("up")
        back_at = time.monotonic()
        _settled(stack, service)
        recovery = time.monotonic() - back_at
        books = ledger(sender.accepted, kafka_points(stack, {service}))
        extra = duplicate_incidents(stack, service)
        (incident,) = stack.incidents(service)
    finally:
        stack.stop_all()
    fault_report.add(
        FaultRow(
            f"PostgreSQL down {OUTAGE_S} s under load",
            books.accepted,
            books.persisted,
            books.duplicates,
            extra,
            0,
            recovery,
            note=f"ingest 200 throughout; {lag_during} anomalies uncommitted at the end of the "
            "outage",
        )
    )
    assert books.lost == 0 and books.duplicates == 0, books
    assert extra == 0
    assert incident["signal_count"] == 2, incident  # nothing recorded twice after the replay
    assert books.accepted == TICKS * 3


def test_kafka_broker_restarted_mid_stream(
    private_broker: PrivateBroker,
    pg_url: str,
    topic_prefix: str,
    tmp_path: Path,
    fault_report: FaultReport,
) -> None:
    stack = Stack(private_broker.bootstrap, pg_url, topic_prefix, tmp_path)
    service = "f-broker"
    try:
        for name in ("api", "ingest", "detect"):
            stack.start(name)
        sender = Sender(stack, workload(service, ticks=TICKS, fault=FAULT), pause_s=0.3)
        sender.start()
        wait_for(lambda: sender.sent_ticks >= 40, timeout_s=60, what="the stream to start")
        mark = sender.mark()
        private_broker.run("restart")  # SIGTERM, wait, start again on the same data
        sender.join()
        recovered = sender.recovered(mark)
        assert recovered, "no request succeeded after the restart"
        # Detect resumes by itself: a partition stuck behind a message Faust lost around the
        # restart is read again by the bus (no restart by the test).
        resumed = assert_detect_recovers(stack)
        _settled(stack, service)
        books = ledger(sender.accepted, kafka_points(stack, {service}))
        extra = duplicate_incidents(stack, service)
        (incident,) = stack.incidents(service)
    finally:
        stack.stop_all()
    fault_report.add(
        FaultRow(
            "Kafka broker restart mid-stream",
            books.accepted,
            books.persisted,
            books.duplicates,
            extra,
            0,
            recovered - mark,
            note=f"{sender.failed_requests} requests refused during the restart; detect "
            f"resumed by itself ({resumed:.0f} s after the load)",
        )
    )
    assert books.lost == 0 and books.duplicates == 0, books
    assert extra == 0
    assert incident["signal_count"] == 2, incident
