"""Soak: sustained mixed telemetry through the production topology, with faults at known times.

One process per service (`vigil run ingest|detect|api`, as tests/integration/stack.py starts
them) on the Kafka and PostgreSQL you name. The synthetic shop of `services.demo.scenarios`
(the scenarios benchmarks/scenarios scores detectors on) is replayed `--speed` times faster
than real time for `--minutes`: metrics and logs as Vigil JSON, spans as OTLP protobuf, all
over HTTP to ingest. After the detectors' warm-up a fault starts every `--fault-every-s`
simulated seconds. Reported:

- throughput: metric points, log records and spans acknowledged per second;
- detection latency: wall-clock seconds from the moment ingest acknowledged a fault's first
  tick to the moment its incident appeared in the API (p50/p99 over the detected faults);
- consumer lag of detect (telemetry topics) and the api (anomalies) over time;
- resident memory (RSS) of each process over time, and whether its growth flattened after
  warm-up: the slope over the last half of the run against the slope over the first half.

Usage:
    python -m benchmarks.soak --minutes 10
    python -m benchmarks.soak --minutes 2 --kafka 127.0.0.1:9092 \
        --database-url postgresql+psycopg://vigil:vigil@127.0.0.1:5432/vigil_test

`--database-url` must allow CREATE DATABASE: the soak runs in a fresh database, dropped after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from sqlalchemy import create_engine, text

from benchmarks.machine import describe
from services.core.events import Span
from services.core.topics import ANOMALIES, TELEMETRY_LOGS, TELEMETRY_METRICS, TELEMETRY_TRACES
from services.demo.scenarios.faults import TARGETS, Fault, FaultKind, Scenario
from services.demo.scenarios.generator import ScenarioRun, Tick
from tests.integration.kafka_tools import group_lag
from tests.integration.stack import Stack

WARMUP_S = 3000.0  # simulated seconds before the first fault (the detectors' warm-up)
FAULT_LENGTH_S = 600.0
KINDS = (
    FaultKind.LEAF_LATENCY,
    FaultKind.ERROR_BURST,
    FaultKind.DEPENDENCY_OUTAGE,
    FaultKind.BAD_DEPLOY,
    FaultKind.MEMORY_LEAK,
)


def soak_scenario(duration_s: int, fault_every_s: float, rate: float, seed: int) -> Scenario:
    """The shop for `duration_s` simulated seconds, a fault every `fault_every_s` after warm-up."""
    faults = []
    start, i = WARMUP_S, 0
    while start + FAULT_LENGTH_S < duration_s - 60:
        kind = KINDS[i % len(KINDS)]
        targets = TARGETS[kind]
        faults.append(Fault(kind, targets[i % len(targets)], start, start + FAULT_LENGTH_S))
        start += fault_every_s
        i += 1
    return Scenario("soak", seed, tuple(faults), duration_s, rate=rate, latency_metrics=True)


# -- encoding ----------------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.isoformat()


def json_batch(ticks: list[Tick]) -> dict[str, Any]:
    """Metrics and logs of `ticks` as one /v1/json body."""
    return {
        "metrics": [
            {"name": p.name, "labels": p.labels, "value": p.value, "timestamp": _iso(p.timestamp)}
            for t in ticks
            for p in t.metrics
        ],
        "logs": [
            {
                "timestamp": _iso(r.timestamp),
                "service": r.service,
                "severity": r.severity.value,
                "body": r.body,
                "attributes": r.attributes,
                **({"trace_id": r.trace_id} if r.trace_id else {}),
                **({"span_id": r.span_id} if r.span_id else {}),
            }
            for t in ticks
            for r in t.logs
        ],
    }


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp_traces(spans: list[Span]) -> bytes:
    """Spans as an OTLP ExportTraceServiceRequest, one resource per service."""
    request = ExportTraceServiceRequest()
    by_service: dict[str, list[Span]] = {}
    for span in spans:
        by_service.setdefault(span.service, []).append(span)
    for service, group in by_service.items():
        resource = request.resource_spans.add()
        resource.resource.attributes.append(_kv("service.name", service))
        scope = resource.scope_spans.add()
        for s in group:
            out = scope.spans.add()
            out.trace_id = bytes.fromhex(s.trace_id)
            out.span_id = bytes.fromhex(s.span_id)
            if s.parent_span_id:
                out.parent_span_id = bytes.fromhex(s.parent_span_id)
            out.name = s.operation
            start_ns = int(s.start.timestamp() * 1e9)
            out.start_time_unix_nano = start_ns
            out.end_time_unix_nano = start_ns + int(s.duration_ms * 1e6)
            if s.error:
                out.status.code = Status.STATUS_CODE_ERROR
            for key, value in s.attributes.items():
                out.attributes.append(_kv(key, value))
    return request.SerializeToString()


# -- load --------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the generator sent and ingest acknowledged."""

    points: int = 0
    logs: int = 0
    spans: int = 0
    refused: int = 0
    behind_s: float = 0.0  # the most the generator fell behind its schedule
    onsets: dict[Fault, float] = field(default_factory=dict)  # fault -> wall time acknowledged
    done: threading.Event = field(default_factory=threading.Event)


def generate(stack: Stack, scenario: Scenario, speed: float, load: Load, flush_s: float) -> None:
    """Replay the scenario at `speed`x real time, one request pair every `flush_s` wall seconds."""
    run = ScenarioRun(scenario)
    began = time.monotonic()
    pending: list[Tick] = []
    with httpx.Client(base_url=stack.ingest, timeout=60) as client:
        for tick in run.ticks():
            pending.append(tick)
            due = began + (tick.second + 1) / speed
            last = tick.second + 1 == scenario.duration_s
            if len(pending) < max(1, int(flush_s * speed)) and not last:
                continue
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                load.behind_s = max(load.behind_s, -wait)
            _send(client, pending, load)
            acknowledged = time.monotonic()
            for fault in scenario.faults:
                if fault not in load.onsets and pending[0].second <= fault.start_s <= tick.second:
                    load.onsets[fault] = acknowledged
            pending = []
    load.done.set()


def _send(client: httpx.Client, ticks: list[Tick], load: Load) -> None:
    body = json_batch(ticks)
    if body["metrics"] or body["logs"]:
        response = client.post("/v1/json", json=body)
        if response.status_code == 200:
            load.points += len(body["metrics"])
            load.logs += len(body["logs"])
        else:
            load.refused += 1
    spans = [s for t in ticks for s in t.spans]
    if spans:
        response = client.post(
            "/v1/traces",
            content=otlp_traces(spans),
            headers={"Content-Type": "application/x-protobuf"},
        )
        if response.status_code == 200:
            load.spans += len(spans)
        else:
            load.refused += 1


# -- observation -------------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Sample:
    t: float  # seconds since the start
    rss: dict[str, float]
    lag: dict[str, int | None]


def observe(
    stack: Stack, began: float, every_s: float, samples: list[Sample], stop: threading.Event
) -> None:
    """Every `every_s`: RSS of each process, consumer lag of detect and the api."""
    groups = {
        "detect metrics": ("vigil-detect", TELEMETRY_METRICS.name),
        "detect logs": ("vigil-detect", TELEMETRY_LOGS.name),
        "detect traces": ("vigil-detect", TELEMETRY_TRACES.name),
        "api anomalies": ("vigil-api", ANOMALIES.name),
    }
    while not stop.is_set():
        rss = {name: rss_mib(proc.proc.pid) for name, proc in stack.procs.items() if proc.proc}
        lag: dict[str, int | None] = {}
        for label, (group, topic) in groups.items():
            try:
                lag[label] = group_lag(stack.kafka, f"{stack.prefix}{group}", stack.prefix + topic)
            except Exception:  # noqa: BLE001 - a lag probe must not end the soak
                lag[label] = None
        samples.append(Sample(time.monotonic() - began, rss, lag))
        stop.wait(every_s)


def watch_incidents(
    stack: Stack, seen: dict[str, tuple[float, list[str]]], stop: threading.Event
) -> None:
    """Record the wall time each service was first seen in each incident of the API.

    Per service, not per incident: a fault's signals may join an incident that is already
    open (a neighbour's, through the dependency graph), and that is its detection too.
    """
    while not stop.is_set():
        try:
            for incident in stack.incidents():
                for service in incident["services"]:
                    key = f"{incident['id']}/{service}"
                    if key not in seen:
                        seen[key] = (time.monotonic(), [service])
        except httpx.HTTPError:
            pass
        stop.wait(1.0)


# -- figures -----------------------------------------------------------------------------------


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t seconds, MiB), in MiB per minute."""
    if len(points) < 3:
        return 0.0
    ts = [t for t, _ in points]
    ys = [y for _, y in points]
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return 0.0
    return 60 * sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var


def memory_verdict(samples: list[Sample], warmup_s: float) -> list[str]:
    """Per process: RSS at warm-up and end, slope over each half after warm-up, flat or not.

    Flat: the last half grows slower than 1 MiB/min and than half the first half's slope
    (growth that is flattening out), or by less than 2% in all. A steady climb is a leak.
    """
    lines = []
    names = sorted({n for s in samples for n in s.rss})
    for name in names:
        series = [(s.t, s.rss[name]) for s in samples if s.t >= warmup_s and s.rss.get(name)]
        if len(series) < 6:
            lines.append(f"  {name:<8} too few samples after warm-up")
            continue
        half = len(series) // 2
        first, last = slope(series[:half]), slope(series[half:])
        growth = series[-1][1] - series[half][1]
        flat = last < max(1.0, 0.5 * first) or growth < 0.02 * series[half][1]
        lines.append(
            f"  {name:<8} {series[0][1]:7.1f} -> {series[-1][1]:7.1f} MiB; slope first half "
            f"{first:+6.2f}, last half {last:+6.2f} MiB/min: {'FLAT' if flat else 'GROWING'}"
        )
    return lines


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def detections(
    scenario: Scenario, load: Load, seen: dict[str, tuple[float, list[str]]]
) -> list[tuple[Fault, float | None]]:
    """Each fault with its detection latency (None: no incident of its service after onset)."""
    out: list[tuple[Fault, float | None]] = []
    for fault in scenario.faults:
        onset = load.onsets.get(fault)
        if onset is None:
            continue
        hits = [
            t - onset for t, services in seen.values() if t >= onset and fault.service in services
        ]
        out.append((fault, min(hits) if hits else None))
    return out


def others_during(
    fault: Fault, load: Load, seen: dict[str, tuple[float, list[str]]], speed: float
) -> str:
    """Incidents of other services first seen while `fault` was on (wall clock)."""
    onset = load.onsets[fault]
    end = onset + (fault.end_s - fault.start_s) / speed
    during = sorted((t - onset, services) for t, services in seen.values() if onset <= t <= end)
    if not during:
        return " (no incident of any service while it was on)"
    shown = ", ".join(f"{'+'.join(services)} after {t:.1f} s" for t, services in during[:3])
    return f" (incidents while it was on: {shown})"


# -- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    duration_s = int(args.minutes * 60 * args.speed)
    scenario = soak_scenario(duration_s, args.fault_every_s, args.rate, args.seed)
    name = f"vigil_soak_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{args.database_url.rsplit('/', 1)[0]}/{name}"
    log_dir = Path(tempfile.mkdtemp(prefix="vigil-soak-"))
    prefix = f"soak{uuid.uuid4().hex[:8]}."
    load0 = os.getloadavg()
    print(f"machine: {describe()}")
    print(
        f"soak: {args.minutes} min at {args.speed}x ({duration_s} simulated s, "
        f"{len(scenario.faults)} faults, {args.rate} requests/s at the shop's frontend); "
        f"load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; logs in {log_dir}"
    )
    sys.stdout.flush()
    stack = Stack(args.kafka, url, prefix, log_dir)
    load, samples = Load(), list[Sample]()
    seen: dict[str, tuple[float, list[str]]] = {}
    stop = threading.Event()
    try:
        for service in ("api", "ingest", "detect"):
            stack.start(service)
        began = time.monotonic()
        threads = [
            threading.Thread(target=observe, args=(stack, began, args.sample_s, samples, stop)),
            threading.Thread(target=watch_incidents, args=(stack, seen, stop)),
        ]
        for thread in threads:
            thread.start()
        generate(stack, scenario, args.speed, load, args.flush_s)
        elapsed = time.monotonic() - began
        time.sleep(args.drain_s)  # let the last fault's incident show up
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        alive = {n: p.alive() for n, p in stack.procs.items()}
    finally:
        stop.set()
        stack.stop_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    report(args, scenario, load, samples, seen, elapsed, alive, load0)
    return 0


def report(
    args: argparse.Namespace,
    scenario: Scenario,
    load: Load,
    samples: list[Sample],
    seen: dict[str, tuple[float, list[str]]],
    elapsed: float,
    alive: dict[str, bool],
    load0: tuple[float, float, float],
) -> None:
    load1 = os.getloadavg()
    total = load.points + load.logs + load.spans
    print(f"\nran {elapsed:.0f} s wall; processes alive at the end: {alive}")
    print(
        f"load average start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, end "
        f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}"
    )
    print(
        f"throughput: {total / elapsed:,.0f} items/s acknowledged ({load.points / elapsed:,.0f} "
        f"metric points/s, {load.logs / elapsed:,.0f} logs/s, {load.spans / elapsed:,.0f} "
        f"spans/s); {load.refused} requests refused; generator at most {load.behind_s:.1f} s "
        "behind schedule"
    )
    found = detections(scenario, load, seen)
    latencies = [lat for _, lat in found if lat is not None]
    print(f"\ndetection: {len(latencies)}/{len(found)} faults opened an incident of their service")
    for fault, lat in found:
        shown = f"{lat:6.1f} s" if lat is not None else "   missed"
        if lat is None:
            # Not necessarily unseen: the incident may name the services that felt it.
            shown += others_during(fault, load, seen, args.speed)
        print(f"  {fault.description:<32} at {fault.start_s:>6.0f} s simulated: {shown}")
    if latencies:
        print(
            f"  latency onset -> incident (wall clock): p50 {percentile(latencies, 0.5):.1f} s, "
            f"p99 {percentile(latencies, 0.99):.1f} s (1 s polling resolution)"
        )
    print("\nconsumer lag over time (messages not yet committed):")
    labels = list(samples[0].lag) if samples else []
    print("  " + f"{'t (s)':>6} " + " ".join(f"{label:>14}" for label in labels))
    step = max(1, len(samples) // 20)
    for s in samples[::step]:
        print("  " + f"{s.t:6.0f} " + " ".join(f"{str(s.lag[label]):>14}" for label in labels))
    print("\nresident memory over time (MiB):")
    names = sorted({n for s in samples for n in s.rss})
    print("  " + f"{'t (s)':>6} " + " ".join(f"{n:>9}" for n in names))
    for s in samples[::step]:
        print("  " + f"{s.t:6.0f} " + " ".join(f"{s.rss.get(n, 0):9.1f}" for n in names))
    warmup = elapsed * args.warmup_fraction
    print(f"\nmemory growth after warm-up (first {warmup:.0f} s excluded):")
    for line in memory_verdict(samples, warmup):
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock length")
    parser.add_argument("--speed", type=float, default=20.0, help="simulated s per wall s")
    parser.add_argument("--rate", type=float, default=5.0, help="shop requests per simulated s")
    parser.add_argument("--fault-every-s", type=float, default=1500.0, help="simulated s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--flush-s", type=float, default=0.5, help="wall s between requests")
    parser.add_argument("--sample-s", type=float, default=10.0, help="RSS/lag sampling period")
    parser.add_argument("--drain-s", type=float, default=60.0, help="wait after the load")
    parser.add_argument("--warmup-fraction", type=float, default=0.2)
    parser.add_argument("--kafka", default=os.environ.get("VIGIL_TEST_KAFKA", "127.0.0.1:9092"))
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "VIGIL_TEST_DATABASE_URL",
            "postgresql+psycopg://vigil:vigil@127.0.0.1:5432/vigil_test",
        ),
    )
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.speed <= 0 or args.rate <= 0 or args.sample_s <= 0:
        parser.error("--minutes, --speed, --rate and --sample-s must be positive")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
