"""Ingest on real Kafka: what HTTP acknowledged is in Kafka exactly once, even across a restart.

The restart test runs its own broker (scripts/kafka.sh on free ports and a private state
directory), never the shared one other tests use, and restarts it while points are streaming.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.core.bus.base import RawMessage, decode_all
from services.core.bus.partitioning import partition_for
from services.core.events import MetricPoint
from services.core.topics import TELEMETRY_METRICS
from tests.conftest import unavailable
from tests.integration.kafka_tools import read_all
from tests.integration.procs import ServiceProcess, free_port
from tests.unit.ingest_payloads import PROTOBUF, RW_HEADERS, T0, gauge, metrics_request, rw_body

REPO = Path(__file__).resolve().parents[2]
Identity = tuple[str, tuple[tuple[str, str], ...], float, float]


def _start_ingest(kafka: str, prefix: str, log_dir: Path) -> tuple[ServiceProcess, str]:
    port = free_port()
    env = {
        "VIGIL_KAFKA_BOOTSTRAP": kafka,
        "VIGIL_TOPIC_PREFIX": prefix,
        "VIGIL_INGEST_PORT": str(port),
        "VIGIL_LOG_LEVEL": "INFO",
    }
    proc = ServiceProcess("ingest", env, log_dir).start()
    url = f"http://127.0.0.1:{port}"
    proc.wait_http_ready(f"{url}/readyz", timeout_s=120)
    return proc, url


def _points_in_kafka(kafka: str, prefix: str) -> list[MetricPoint]:
    """Every point in telemetry.metrics, batches unpacked; checks each is on its partition."""
    points: list[MetricPoint] = []
    for message in read_all(kafka, f"{prefix}{TELEMETRY_METRICS.name}", timeout_s=60):
        raw = RawMessage(TELEMETRY_METRICS.name, message.key, message.value, message.partition)
        for event in decode_all(TELEMETRY_METRICS, raw):
            assert isinstance(event, MetricPoint)
            key = event.partition_key().encode()
            assert partition_for(key, TELEMETRY_METRICS.partitions) == message.partition
            points.append(event)
    return points


def _identity(p: MetricPoint) -> Identity:
    return (p.name, tuple(sorted(p.labels.items())), p.value, p.timestamp.timestamp())


def _otlp_body(request_no: int, n: int) -> tuple[bytes, list[Identity]]:
    """`n` gauge points, each identified by its value; 50 series."""
    t = T0 + request_no * 1_000_000_000
    points = [(t, float(request_no * 100_000 + i), {"slot": str(i % 50)}) for i in range(n)]
    request = metrics_request(gauge("probe", points), service="exactly-once")
    sent = [
        (
            "probe",
            tuple(sorted({"service": "exactly-once", "slot": a["slot"]}.items())),
            v,
            t / 1e9,
        )
        for t, v, a in points
    ]
    return request.SerializeToString(), sent


def test_points_sent_over_http_are_in_kafka_exactly_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    ingest, url = _start_ingest(kafka_bootstrap, topic_prefix, tmp_path)
    sent: list[Identity] = []
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            for r in range(20):
                body, identities = _otlp_body(r, 500)
                response = client.post("/v1/metrics", content=body, headers=PROTOBUF)
                assert response.status_code == 200, response.text
                sent += identities
            ms = T0 // 1_000_000
            series = [({"__name__": "rw_probe", "n": str(i)}, [(float(i), ms)]) for i in range(300)]
            response = client.post("/api/v1/write", content=rw_body(series), headers=RW_HEADERS)
            assert response.status_code == 204
            sent += [("rw_probe", (("n", str(i)),), float(i), ms / 1000) for i in range(300)]
            points = [
                {"name": "json_probe", "value": i, "timestamp": 1_800_000_000} for i in range(7)
            ]
            response = client.post("/v1/json/metrics", json={"points": points})
            assert response.json() == {"accepted": 7}
            sent += [("json_probe", (), float(i), 1_800_000_000.0) for i in range(7)]
    finally:
        assert ingest.stop() == 0
    received = [_identity(p) for p in _points_in_kafka(kafka_bootstrap, topic_prefix)]
    assert len(received) == len(sent) == 10_307
    assert Counter(received) == Counter(sent)  # every point once: none lost, none doubled


@dataclass
class PrivateBroker:
    bootstrap: str
    env: dict[str, str]

    def run(self, command: str) -> None:
        result = subprocess.run(
            ["bash", str(REPO / "scripts" / "kafka.sh"), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"kafka.sh {command} failed:\n{result.stderr[-3000:]}")


@pytest.fixture
def private_broker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[PrivateBroker]:
    """A broker of our own, on free ports with its own state, taken down afterwards."""
    port, controller = free_port(), free_port()
    env = {
        **os.environ,
        "VIGIL_KAFKA_PORT": str(port),
        "VIGIL_KAFKA_CONTROLLER_PORT": str(controller),
        "VIGIL_STATE_DIR": str(tmp_path / "state"),
        "VIGIL_KAFKA_HEAP": "512m",
    }
    broker = PrivateBroker(f"127.0.0.1:{port}", env)
    try:
        broker.run("up")
    except (AssertionError, subprocess.TimeoutExpired) as exc:
        unavailable("a private Kafka broker (scripts/kafka.sh)", exc)
    try:
        yield broker
    finally:
        broker.run("down")


def test_exactly_once_across_a_broker_restart(
    private_broker: PrivateBroker, tmp_path: Path
) -> None:
    ingest, url = _start_ingest(private_broker.bootstrap, "restart.", tmp_path)
    per_request = 200
    sent: list[Identity] = []
    statuses: list[int] = []
    slowest = 0.0
    progress, restarted = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def sender() -> None:
        nonlocal slowest
        try:
            with httpx.Client(base_url=url, timeout=180) as client:
                r, after = 0, 0
                while after < 10 and r < 5000:  # until 10 requests after the restart
                    body, identities = _otlp_body(r, per_request)
                    began = time.monotonic()
                    response = client.post("/v1/metrics", content=body, headers=PROTOBUF)
                    slowest = max(slowest, time.monotonic() - began)
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        sent.extend(identities)
                    r += 1
                    after += restarted.is_set()
                    if r == 15:
                        progress.set()
                    time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
            progress.set()

    thread = threading.Thread(target=sender)
    try:
        thread.start()
        assert progress.wait(120), "no progress before the restart"
        private_broker.run("restart")  # SIGTERM, wait, start again on the same data
        restarted.set()
        thread.join(timeout=300)
        assert not thread.is_alive(), "the sender never finished"
    finally:
        ingest.stop()
    assert not failure, failure
    assert slowest > 1.0, "no request was held up by the restart: it did not test anything"
    assert set(statuses) == {200}, Counter(statuses)
    received = [_identity(p) for p in _points_in_kafka(private_broker.bootstrap, "restart.")]
    assert len(received) == len(sent) == len(statuses) * per_request
    assert Counter(received) == Counter(sent)
