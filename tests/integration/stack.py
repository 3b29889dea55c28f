"""A production-topology Vigil (one process per service) on real Kafka + PostgreSQL, for tests."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

import migrations
from services.core.bus.base import RawMessage, decode_all
from services.core.events import Event
from services.core.topics import topic_named
from tests.integration.kafka_tools import group_lag, read_all
from tests.integration.procs import ServiceProcess, free_port

SERIES = ("latency", "errors", "cpu")


def workload(
    service: str, *, ticks: int = 260, fault: range = range(140, 180), seed: int = 42
) -> list[list[dict[str, Any]]]:
    """One batch per tick: three series of `service`; `latency` is 5x during `fault`."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batches = []
    for tick in range(ticks):
        at = (start + timedelta(seconds=10 * tick)).isoformat()
        batch = []
        for name in SERIES:
            value = 100 + rng.gauss(0, 2)
            if name == "latency" and tick in fault:
                value *= 5
            batch.append(
                {"name": name, "labels": {"service": service}, "value": value, "timestamp": at}
            )
        batches.append(batch)
    return batches


def merge(*per_service: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Interleave several services' workloads tick by tick."""
    return [[p for batch in ticks for p in batch] for ticks in zip(*per_service, strict=True)]


class Stack:
    """Starts and stops service processes sharing one topic namespace and database."""

    def __init__(self, kafka: str, database_url: str, prefix: str, log_dir: Path) -> None:
        migrations.upgrade(database_url)
        self.headers = {"Authorization": f"Bearer {_admin_key(database_url)}"}
        self.kafka = kafka
        self.prefix = prefix
        self.api_port, self.ingest_port = free_port(), free_port()
        self.env = {
            "VIGIL_KAFKA_BOOTSTRAP": kafka,
            "VIGIL_DATABASE_URL": database_url,
            "VIGIL_TOPIC_PREFIX": prefix,
            "VIGIL_API_PORT": str(self.api_port),
            "VIGIL_INGEST_PORT": str(self.ingest_port),
            "VIGIL_LOG_LEVEL": "INFO",
        }
        self.log_dir = log_dir
        self.procs: dict[str, ServiceProcess] = {}

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ingest(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    def start(self, name: str, service: str | None = None) -> ServiceProcess:
        """Start `vigil run SERVICE` under the process name `name`."""
        proc = ServiceProcess(service or name, self.env, self.log_dir, label=name)
        self.procs[name] = proc.start()
        if proc.service == "api":
            proc.wait_http_ready(f"{self.api}/readyz")
        elif proc.service == "ingest":
            proc.wait_http_ready(f"{self.ingest}/readyz")
        return proc

    def stop_all(self) -> None:
        """Stop every process; when a test is failing, print what each one logged last.

        pytest shows a failing test's captured output, so a failure in CI comes with the
        processes' own account of it (their log files are gone with the CI machine).
        """
        failing = sys.exc_info()[0] is not None
        if failing:
            try:
                summary = [(i["services"], i["status"], i["title"]) for i in self.incidents()]
                print(f"----- incidents at failure: {summary}")
            except Exception as exc:  # noqa: BLE001 - a diagnostic must not hide the failure
                print(f"----- incidents at failure: unavailable ({exc})")
        for name, proc in self.procs.items():
            proc.stop()
            if failing:
                print(f"----- last lines of {name} ({proc.log_path.name}) -----")
                print(proc.log_tail(80))

    def send(self, batches: list[list[dict[str, Any]]], *, per_request: int = 10) -> int:
        """POST batches to ingest; returns the points acknowledged."""
        accepted = 0
        with httpx.Client(base_url=self.ingest, timeout=30) as client:
            for i in range(0, len(batches), per_request):
                points = [p for batch in batches[i : i + per_request] for p in batch]
                response = client.post("/v1/json/metrics", json={"points": points})
                assert response.status_code == 200, response.text
                accepted += response.json()["accepted"]
        return accepted

    def incidents(self, service: str | None = None) -> list[dict[str, Any]]:
        params = {"service": service, "limit": 500} if service else {"limit": 500}
        response = httpx.get(
            f"{self.api}/api/v1/incidents", params=params, headers=self.headers, timeout=10
        )
        response.raise_for_status()
        return list(response.json()["items"])

    def resolved(self, service: str) -> list[dict[str, Any]]:
        return [i for i in self.incidents(service) if i["status"] == "resolved"]

    def topic(self, name: str) -> list[Any]:
        return read_all(self.kafka, f"{self.prefix}{name}")

    def events(self, name: str) -> list[Event]:
        """Every event in a topic, with batched messages (several events each) unpacked."""
        topic = topic_named(name)
        return [
            event
            for m in self.topic(name)
            for event in decode_all(topic, RawMessage(name, m.key, m.value, m.partition, m.offset))
        ]

    def detect_lag(self) -> int | None:
        return group_lag(
            self.kafka, f"{self.prefix}vigil-detect", f"{self.prefix}telemetry.metrics"
        )


def _admin_key(database_url: str) -> str:
    """An admin API key in the stack's database, for the tests' API calls."""
    from services.core.db import make_engine, make_session_factory
    from tests.factories import make_key

    engine = make_engine(database_url)
    try:
        return make_key(make_session_factory(engine), "admin", "integration-tests")
    finally:
        engine.dispose()
