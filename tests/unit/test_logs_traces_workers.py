from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from services.core.bus import InMemoryBus
from services.core.bus.base import DictStateStore
from services.core.events import Anomaly, LogRecord, Severity, Span, TopologySnapshot
from services.core.topics import ANOMALIES, TELEMETRY_LOGS, TELEMETRY_TRACES, TOPOLOGY
from services.detect.logs.monitor import LogsMonitor
from services.detect.logs.worker import LogsWorker
from services.detect.service import build_detect
from services.detect.settings import DetectSettings
from services.detect.traces.monitor import TracesMonitor
from services.detect.traces.worker import TracesWorker

START = datetime(2026, 1, 1, tzinfo=UTC)


def lines(seconds: range, body: str = "GET /cart/{} 200 3ms", **kw: object) -> list[LogRecord]:
    return [
        LogRecord(timestamp=START + timedelta(seconds=s), service="cart", body=body.format(s), **kw)  # type: ignore[arg-type]
        for s in seconds
    ]


def published(bus: InMemoryBus, name: str) -> list[dict[str, object]]:
    return [json.loads(m.value) for m in bus.recent(name)]


def test_detect_wires_log_and_trace_detectors_to_the_bus() -> None:
    async def scenario() -> list[dict[str, object]]:
        bus = InMemoryBus(keep_last=10_000)
        build_detect(DetectSettings(), bus)
        await bus.start()
        await bus.publish(TELEMETRY_LOGS, lines(range(700)))
        errors = lines(range(700, 703), "payment {} failed: gateway exploded")
        await bus.publish(
            TELEMETRY_LOGS, [r.model_copy(update={"severity": Severity.ERROR}) for r in errors]
        )
        await bus.drain()
        await bus.stop()
        return published(bus, ANOMALIES.name)

    anomalies = asyncio.run(scenario())
    assert [(a["kind"], a["detector"], a["status"]) for a in anomalies] == [
        ("log", "log_new_template", "firing")
    ]


def test_log_templates_survive_a_worker_restart() -> None:
    store = DictStateStore()

    async def worker_run(records: list[LogRecord]) -> list[Anomaly]:
        bus = InMemoryBus()
        worker = LogsWorker(LogsMonitor(), bus, store, checkpoint_every=100)
        for record in records:
            await worker.handle(record)
        return [Anomaly.model_validate_json(m.value) for m in bus.recent(ANOMALIES.name)]

    errors = [
        r.model_copy(update={"severity": Severity.ERROR})
        for r in lines(range(700, 703), "disk {} full")
    ]
    first = asyncio.run(worker_run(lines(range(700)) + errors))
    assert [a.detector for a in first] == ["log_new_template"]
    assert store.get("default/cart") is not None
    # A new process: the template is restored from the store, so it is not new any more.
    later = [
        r.model_copy(update={"severity": Severity.ERROR})
        for r in lines(range(800, 805), "disk {} full")
    ]
    second = asyncio.run(worker_run(lines(range(703, 800)) + later))
    assert [a for a in second if a.detector == "log_new_template"] == []


def test_the_traces_worker_publishes_the_dependency_graph() -> None:
    async def scenario() -> list[TopologySnapshot]:
        bus = InMemoryBus()
        TracesWorker.attach(TracesMonitor(), bus, group="g")
        await bus.start()
        spans = []
        for s in range(60):
            start = START + timedelta(seconds=s)
            spans.append(
                Span(
                    trace_id=f"t{s}",
                    span_id=f"b{s}",
                    parent_span_id=f"a{s}",
                    service="cart",
                    operation="GET /cart",
                    start=start,
                    duration_ms=3,
                )
            )
            spans.append(
                Span(
                    trace_id=f"t{s}",
                    span_id=f"a{s}",
                    service="frontend",
                    operation="GET /",
                    start=start,
                    duration_ms=5,
                )
            )
        await bus.publish(TELEMETRY_TRACES, spans)
        await bus.drain()
        await bus.stop()
        return [TopologySnapshot.model_validate_json(m.value) for m in bus.recent(TOPOLOGY.name)]

    snapshots = asyncio.run(scenario())
    assert len(snapshots) >= 2  # when the edge appeared, then every 30 s of span time
    last = snapshots[-1]
    assert last.services == ["cart", "frontend"]
    assert [(e.caller, e.callee) for e in last.edges] == [("frontend", "cart")]
    assert last.edges[0].calls >= 30 and last.edges[0].errors == 0
    assert last.partition_key() == "default/detect"
