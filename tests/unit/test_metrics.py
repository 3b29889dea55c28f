"""Prometheus metrics: the embedded api's /metrics covers every in-process service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.core.bus import InMemoryBus
from services.core.events import MetricPoint
from services.core.latency import LatencyHistogram
from services.core.metrics import BusCollector, new_registry, ops_app, render
from services.core.topics import TELEMETRY_METRICS
from services.embedded import EmbeddedStack

START = datetime(2026, 1, 1, tzinfo=UTC)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_embedded_metrics_cover_bus_detect_api_and_remediate(tmp_path: Path) -> None:
    async def scenario() -> str:
        stack = EmbeddedStack.build(f"sqlite:///{tmp_path}/vigil.db")
        await stack.start()
        try:
            points = [
                MetricPoint(
                    name="latency_ms",
                    labels={"service": "checkout"},
                    value=10.0 + i % 3,
                    timestamp=START + timedelta(seconds=i),
                )
                for i in range(20)
            ]
            await stack.bus.publish(TELEMETRY_METRICS, points)
            await stack.bus.publish_raw(f"{TELEMETRY_METRICS.name}", None, b"not json")
            await stack.bus.drain(timeout=10)
            transport = httpx.ASGITransport(app=stack.api.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                response = await client.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            return response.text
        finally:
            await stack.stop()

    samples = _samples(asyncio.run(scenario()))
    topic, group = TELEMETRY_METRICS.name, "vigil-detect"
    assert _value(samples, "vigil_bus_messages_handled_total", topic=topic, group=group) == 20
    assert _value(samples, "vigil_bus_messages_dead_lettered_total", topic=topic, group=group) == 1
    assert _value(samples, "vigil_bus_retries_total", topic=topic, group=group) == 0
    assert _value(samples, "vigil_bus_consumer_lag", topic=topic, group=group) == 0
    assert (
        _value(samples, "vigil_bus_handler_duration_seconds_count", topic=topic, group=group) == 20
    )
    assert _value(samples, "vigil_bus_ready") == 1
    assert _value(samples, "vigil_detect_points_total") == 20
    assert _value(samples, "vigil_detect_series") == 1
    assert _value(samples, "vigil_detect_model_failures_total") == 0
    assert "vigil_detect_anomalies_total" in {name for name, _ in samples}
    assert _value(samples, "vigil_api_open_incidents") == 0
    assert _value(samples, "vigil_api_signals_recorded_total") == 0
    assert _value(samples, "vigil_remediate_executed_total") == 0


def test_in_memory_lag_is_the_queue_depth_before_the_consumer_runs() -> None:
    async def scenario() -> dict[tuple[str, str], int]:
        bus = InMemoryBus()

        async def handle(_: object) -> None:
            return None

        bus.subscribe(TELEMETRY_METRICS, handle, group="g")
        point = MetricPoint(name="m", value=1, timestamp=START)
        await bus.publish(TELEMETRY_METRICS, [point, point, point])  # not started: queued
        return bus.consumer_lag()

    assert asyncio.run(scenario()) == {(TELEMETRY_METRICS.name, "g"): 3}


def test_latency_histogram_is_cumulative_with_le_semantics() -> None:
    histogram = LatencyHistogram(buckets=(0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(seconds)
    assert histogram.cumulative() == [("0.1", 2.0), ("1.0", 3.0), ("+Inf", 4.0)]
    assert histogram.count == 4


def test_ops_app_answers_health_readiness_and_metrics() -> None:
    ready = {"bus": False}
    bus = InMemoryBus()
    registry = new_registry()
    registry.register(BusCollector(bus))
    app = ops_app(registry, lambda: ready["bus"])

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
            codes = [(await client.get(path)).status_code for path in ("/healthz", "/readyz")]
            ready["bus"] = True
            codes.append((await client.get("/readyz")).status_code)
            metrics = await client.get("/metrics")
            assert b"vigil_bus_ready" in metrics.content
            return codes

    assert asyncio.run(scenario()) == [200, 503, 200]
    assert b"vigil_bus_ready 1.0" in render(registry)[0]


def test_embedded_metrics_on_the_api_port_include_ingest(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from services.embedded import EmbeddedStack

    stack = EmbeddedStack.build(f"sqlite:///{tmp_path}/ingest-metrics.db")
    point = {"name": "cpu", "labels": {"service": "a"}, "value": 1.0}
    with TestClient(stack.ingest) as ingest:
        assert ingest.post("/v1/json/metrics", json={"points": [point]}).status_code == 200
    with TestClient(stack.api.app) as api:
        text = api.get("/metrics").text
    assert "vigil_ingest_accepted" in text
    stack.api.engine.dispose()
