"""The predictor wired into the detect service on the in-memory bus: metrics in, predictions
out on `predictions`, anomalies and incidents read as features and labels, gauges on /metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest

from benchmarks.scenarios.slowburn import SlowBurn, slowburn_run, telemetry
from services.core.bus.base import DictStateStore
from services.core.bus.memory import InMemoryBus
from services.core.events import (
    Anomaly,
    Event,
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    MetricPoint,
    Prediction,
    Severity,
)
from services.core.metrics import new_registry
from services.core.topics import ANOMALIES, INCIDENTS, PREDICTIONS, TELEMETRY_METRICS
from services.detect.predict.engine import Intelligence
from services.detect.predict.worker import PredictionWorker
from services.detect.service import build_detect, detect_collector
from services.detect.settings import DetectSettings


def test_detect_publishes_forecasts_and_a_failure_alert_for_a_leak() -> None:
    run = slowburn_run(SlowBurn.MEMORY_LEAK, 1)
    points: list[Event] = list(telemetry(run))
    seen: list[Prediction] = []

    async def main() -> None:
        bus = InMemoryBus()
        worker = build_detect(DetectSettings(forecast_step_s=300), bus)
        assert worker.predictor is not None

        async def collect(event: Event) -> None:
            assert isinstance(event, Prediction)
            seen.append(event)

        bus.subscribe(PREDICTIONS, collect, group="test")
        await bus.start()
        await bus.publish(
            ANOMALIES,
            [
                Anomaly(
                    status="firing",
                    series="s",
                    metric="m",
                    service=run.service,
                    timestamp=run.start,
                    score=0.97,
                )
            ],  # fmt: skip
        )
        await bus.publish(
            INCIDENTS,
            [
                IncidentEvent(
                    type=IncidentEventType.OPENED,
                    incident_id="i",
                    title="t",
                    service=run.service,
                    severity=Severity.ERROR,
                    status=IncidentStatus.OPEN,
                    opened_at=run.start,
                )
            ],  # fmt: skip
        )
        await bus.publish(TELEMETRY_METRICS, points)
        await bus.drain(timeout=120)
        registry = new_registry()
        collector = detect_collector(worker)
        assert collector is not None
        registry.register(collector)
        text = generate_latest(registry).decode()
        assert f'vigil_anomaly_score{{service="{run.service}",tenant="default"}} 0.97' in text
        assert "vigil_load_forecast{" in text and "vigil_failure_probability{" in text
        view = worker.predictor.intelligence.services[("default", run.service)]
        assert list(view.model.incidents) == [run.start.timestamp()]  # the label arrived
        await bus.stop()

    asyncio.run(main())
    kinds = {p.kind for p in seen}
    assert kinds == {"load_forecast", "exhaustion", "failure"}
    alarms = [p for p in seen if p.kind == "failure" and p.status == "firing"]
    assert len(alarms) == 1
    assert run.failure_s is not None
    assert (alarms[0].timestamp - run.start).total_seconds() < run.failure_s - 300


def test_prediction_can_be_switched_off() -> None:
    worker = build_detect(DetectSettings(predict_enabled=False), InMemoryBus())
    assert worker.predictor is None and detect_collector(worker) is None


class _Broken(Intelligence):
    """A predictor with a bug."""

    def observe_point(self, point: MetricPoint) -> list[Prediction]:
        raise RuntimeError("boom")


def test_a_failing_prediction_does_not_fail_the_metric_point() -> None:
    async def main() -> int:
        bus = InMemoryBus()
        worker = build_detect(DetectSettings(), bus)
        assert worker.predictor is not None

        worker.predictor.intelligence = _Broken()
        await bus.start()
        at = datetime(2026, 1, 1, tzinfo=UTC)
        await bus.publish(
            TELEMETRY_METRICS,
            [
                MetricPoint(
                    name="x",
                    labels={"service": "a"},
                    value=1.0,
                    timestamp=at + timedelta(seconds=i),
                )
                for i in range(3)
            ],  # fmt: skip
        )
        await bus.drain(timeout=10)
        await bus.stop()
        assert worker.points == 3  # the detector took every point
        return worker.predictor.failures

    assert asyncio.run(main()) == 3


def _load(at: datetime, value: float) -> MetricPoint:
    return MetricPoint(name="http_requests_per_second", labels={"service": "cart"},
                       value=value, timestamp=at)  # fmt: skip


def test_a_restarted_worker_resumes_forecasts_and_trends_from_checkpoints() -> None:
    policy = DetectSettings(forecast_step_s=300).intelligence_policy()
    store = DictStateStore()
    bus = InMemoryBus()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    run = slowburn_run(SlowBurn.MEMORY_LEAK, 2)
    memory = [p for p in telemetry(run) if p.name.startswith("memory")][:200]

    async def feed(worker: PredictionWorker, points: list[MetricPoint]) -> None:
        for point in points:
            await worker.observe(point)

    first = PredictionWorker(Intelligence(policy), bus, store)
    day = [_load(start + timedelta(minutes=m), 100.0 + (m // 60) % 24) for m in range(26 * 60)]
    asyncio.run(feed(first, day + memory))
    before = first.intelligence.services[("default", "cart")].forecaster
    assert before is not None and before.warm

    second = PredictionWorker(Intelligence(policy), bus, store)  # a new process, same store
    last = next(p for p in reversed(memory) if p.name == "memory_bytes")
    later = [_load(start + timedelta(minutes=26 * 60 + 1), 125.0), last]
    asyncio.run(feed(second, later))
    assert second.restored == 2  # the load forecaster and the memory trend
    after = second.intelligence.services[("default", "cart")].forecaster
    assert after is not None and after.warm and after.slot == before.slot + 1  # one more closed
    resource = second.intelligence.resources[f"default/{last.series}"]
    assert resource.forecaster.short.n == 100 and resource.limit == 2 * 2**30


def test_a_corrupt_or_foreign_checkpoint_means_a_cold_start() -> None:
    intelligence = Intelligence()
    point = _load(datetime(2026, 1, 1, tzinfo=UTC), 1.0)
    assert not intelligence.restore(point, b"")
    assert not intelligence.restore(point, b"\x01not a pickle")
    assert not intelligence.restore(point, b"\x63" + b"whatever")  # another version
    assert not intelligence.knows(point)
