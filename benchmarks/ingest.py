"""Ingest throughput into real Kafka: OTLP protobuf and remote_write, 1 and 2 processes.

For each format and process count, starts that many `vigil run ingest` processes (their own
topic namespace), and drives them from one client process (threads with keep-alive
connections, several requests in flight per ingest process) with pre-encoded bodies whose
timestamps advance on every request, so cumulative counters really become rates. A point
counts as accepted when its request was answered 2xx (after Kafka acknowledged it), minus the
points a partial success reported. Also measures, on the same broker, the raw kafka-python
producer: one message per point (the same JSON and settings, acks=all + idempotence), and the
same producer sending the pre-encoded per-partition batches ingest sends. Printed, not asserted.
On a shared machine, "per CPU-second" figures (CPU time the process actually got) are the
fair per-process comparison; points/s are what this run got from the cores it shared.

    python benchmarks/ingest.py --kafka 127.0.0.1:9092 --seconds 15 --processes 1 2

Each ingest process is sent `--in-flight` requests at a time (default 8, one keep-alive
connection each; the OpenTelemetry Collector's exporters default to 10 concurrent senders):
a request is answered only after Kafka acknowledged it, so one process's throughput is its
concurrency divided by that round trip as long as it has CPU to spare.

OTLP bodies: 1,000 points (20 metrics x 50 attribute sets; half gauges, half cumulative
monotonic sums) from one resource. remote_write bodies: 1,000 series with one sample each
(half `_total` counters). Both come from a fixed set of series, as scrapes do.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cramjam  # noqa: E402
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # noqa: E402
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from services.core.bus.base import encode_batch  # noqa: E402
from services.core.bus.kafka import ensure_topics  # noqa: E402
from services.core.bus.partitioning import partition_for  # noqa: E402
from services.core.events import MetricPoint  # noqa: E402
from services.core.topics import TELEMETRY_METRICS  # noqa: E402
from services.ingest.formats.prompb import WriteRequest  # noqa: E402

SENTINEL_NS = 0x1122334455667788  # fixed64 placeholder, patched per request
SENTINEL_MS = 1_999_999_999_999  # 6-byte varint like every current ms timestamp
POINTS_PER_BODY = 1000


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_template(metrics: int = 20, series: int = 50) -> bytes:
    """A 1,000-point ExportMetricsServiceRequest whose timestamps are a sentinel."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend([_kv("service.name", "checkout"), _kv("host.name", "node-1")])
    sm = rm.scope_metrics.add()
    sm.scope.name = "bench"
    for m in range(metrics):
        metric = sm.metrics.add()
        metric.name = f"app.metric.{m}"
        if m % 2:
            metric.sum.is_monotonic = True
            metric.sum.aggregation_temporality = 2
            points = metric.sum.data_points
        else:
            points = metric.gauge.data_points
        for s in range(series):
            dp = points.add()
            dp.time_unix_nano = SENTINEL_NS
            dp.start_time_unix_nano = 1_700_000_000_000_000_000
            dp.as_double = float(s % 13) + m
            dp.attributes.extend([_kv("route", f"/api/r{s}"), _kv("method", "GET")])
            dp.attributes.append(_kv("status", "200"))
    return request.SerializeToString()


def remote_write_template(series: int = 1000) -> bytes:
    """An uncompressed 1,000-series WriteRequest whose timestamps are a sentinel."""
    request = WriteRequest()
    for s in range(series):
        ts = request.timeseries.add()
        name = "http_requests_total" if s % 2 else "process_resident_memory_bytes"
        for key, value in sorted(
            {
                "__name__": name,
                "instance": f"node-{s % 20}:9100",
                "job": "api",
                "id": str(s),
            }.items()
        ):
            ts.labels.add(name=key, value=value)
        ts.samples.add(value=float(s), timestamp=SENTINEL_MS)
    return bytes(request.SerializeToString())


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class Bodies:
    """Request bodies with timestamps advancing by 10 s per request (thread-safe)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.tick = 0
        self.lock = threading.Lock()
        if fmt == "otlp":
            self.template = otlp_template()
            self.sentinel = struct.pack("<Q", SENTINEL_NS)
        else:
            self.template = remote_write_template()
            self.sentinel = _varint(SENTINEL_MS)
        self.base_ms = int(time.time() * 1000) - 10_000_000_000

    def next(self) -> bytes:
        with self.lock:
            self.tick += 1
            ms = self.base_ms + 10_000 * self.tick
        if self.fmt == "otlp":
            return self.template.replace(self.sentinel, struct.pack("<Q", ms * 1_000_000))
        body = self.template.replace(self.sentinel, _varint(ms))
        return bytes(cramjam.snappy.compress_raw(body))


@dataclass
class Tally:
    accepted: int = 0
    failed: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(port: int, fmt: str, bodies: Bodies, until: float, tally: Tally) -> None:
    """One keep-alive connection sending requests back to back until `until`."""
    path = "/v1/metrics" if fmt == "otlp" else "/api/v1/write"
    headers = {"Content-Type": "application/x-protobuf"}
    if fmt == "remote_write":
        headers |= {"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < until:
        body = bodies.next()
        began = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - began
        with tally.lock:
            if 200 <= response.status < 300:
                rejected = 0
                if fmt == "otlp" and data:
                    answer = ExportMetricsServiceResponse.FromString(data)
                    rejected = answer.partial_success.rejected_data_points
                else:
                    rejected = int(response.getheader("X-Vigil-Rejected") or 0)
                tally.accepted += POINTS_PER_BODY - rejected
                tally.latencies.append(elapsed)
            else:
                tally.failed[response.status] = tally.failed.get(response.status, 0) + 1
    conn.close()


def start_ingest(kafka: str, prefix: str, port: int, log_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VIGIL_KAFKA_BOOTSTRAP": kafka,
        "VIGIL_TOPIC_PREFIX": prefix,
        "VIGIL_INGEST_PORT": str(port),
        "VIGIL_LOG_LEVEL": "WARNING",
    }
    log = (log_dir / f"ingest-{port}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "run", "ingest"], env=env, stdout=log, stderr=log
    )


def wait_ready(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"ingest on port {port} not ready")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_ingest(
    kafka: str, fmt: str, processes: int, seconds: float, in_flight: int
) -> tuple[str, float]:
    """One configuration; returns its report line and accepted points/s."""
    prefix = f"benchingest{uuid.uuid4().hex[:8]}."
    ensure_topics([kafka], prefix=prefix)
    log_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-ingest-"))
    ports = [free_port() for _ in range(processes)]
    procs = [start_ingest(kafka, prefix, port, log_dir) for port in ports]
    try:
        for port in ports:
            wait_ready(port)
        bodies = Bodies(fmt)
        warm = Tally()  # seed counter state and connections, not measured
        client(ports[0], fmt, bodies, time.monotonic() + 2, warm)
        tally = Tally()
        cpu_before = sum(_cpu_seconds(proc.pid) for proc in procs)
        began = time.monotonic()
        until = began + seconds
        threads = [
            threading.Thread(target=client, args=(port, fmt, bodies, until, tally))
            for port in ports
            for _ in range(in_flight)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        cpu = sum(_cpu_seconds(proc.pid) for proc in procs) - cpu_before
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    rate = tally.accepted / elapsed
    p50, p99 = _percentiles(tally.latencies)
    failed = f", non-2xx {tally.failed}" if tally.failed else ""
    line = (
        f"{fmt:<12} {processes} process{'es' if processes > 1 else '  '}: "
        f"{rate:>9,.0f} points/s ({rate / processes:,.0f} per process), "
        f"request p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"{len(tally.latencies)} requests{failed}; "
        f"ingest CPU {cpu / elapsed / processes:.0%} of a core per process, "
        f"{tally.accepted / max(cpu, 1e-9):,.0f} points per ingest CPU-second"
    )
    return line, rate


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    if len(latencies) < 2:
        return (latencies[0], latencies[0]) if latencies else (0.0, 0.0)
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98]


def raw_producer(kafka: str, points: int, batched: bool) -> tuple[float, float]:
    """The plain kafka-python producer: one message per point, or ingest's batches.

    Returns (points/s, points per CPU-second of this process, its I/O thread included).
    """
    from datetime import UTC, datetime

    from kafka import KafkaProducer

    prefix = f"benchraw{uuid.uuid4().hex[:8]}."
    ensure_topics([kafka], [TELEMETRY_METRICS], prefix=prefix)
    topic = prefix + TELEMETRY_METRICS.name
    producer = KafkaProducer(
        bootstrap_servers=kafka,
        acks="all",
        enable_idempotence=True,
        compression_type="lz4",
        linger_ms=5,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5,
    )
    now = datetime.now(UTC)
    sample = [
        MetricPoint(
            name=f"app.metric.{i % 20}",
            labels={"service": "checkout", "route": f"/api/r{i % 50}", "method": "GET"},
            value=float(i),
            timestamp=now,
        )
        for i in range(1000)
    ]
    keyed = [(p.partition_key().encode(), p.model_dump_json().encode()) for p in sample]
    messages: list[tuple[bytes, bytes, int | None]] = [(k, v, None) for k, v in keyed]
    if batched:
        groups: dict[int, list[MetricPoint]] = {}
        for (key, _), point in zip(keyed, sample, strict=True):
            groups.setdefault(partition_for(key, TELEMETRY_METRICS.partitions), []).append(point)
        messages = [
            (members[0].partition_key().encode(), encode_batch(TELEMETRY_METRICS, members), p)
            for p, members in groups.items()
        ]
    producer.send(topic, b"warm-up").get(timeout=30)
    rounds = max(1, points // 1000)
    cpu_before = time.process_time()
    began = time.perf_counter()
    for _ in range(rounds):
        for key, value, partition in messages:
            producer.send(topic, key=key, value=value, partition=partition)
    producer.flush()
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu_before
    producer.close()
    return rounds * 1000 / elapsed, rounds * 1000 / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--seconds", type=float, default=15.0, help="per configuration")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--formats", nargs="+", default=["otlp", "remote_write"])
    parser.add_argument("--in-flight", type=int, default=8, help="connections per process")
    parser.add_argument("--raw-points", type=int, default=200_000)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    raw, raw_cpu = raw_producer(args.kafka, args.raw_points, batched=False)
    batched, batched_cpu = raw_producer(args.kafka, args.raw_points * 5, batched=True)
    print(
        f"raw kafka-python producer, one message per point:     {raw:>9,.0f} points/s "
        f"({raw_cpu:,.0f} per CPU-second)"
    )
    print(
        f"raw kafka-python producer, ingest's batched messages: {batched:>9,.0f} points/s "
        f"({batched_cpu:,.0f} per CPU-second)"
    )
    print(f"concurrent requests per ingest process: {args.in_flight}")
    for fmt in args.formats:
        for processes in args.processes:
            line, rate = run_ingest(args.kafka, fmt, processes, args.seconds, args.in_flight)
            print(
                f"{line}; per process {rate / processes / raw:.1f}x the raw per-point producer, "
                f"{rate / processes / batched:.2f}x the raw batched producer",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
