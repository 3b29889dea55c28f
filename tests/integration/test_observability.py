"""`vigil run detect` answers /healthz, /readyz and /metrics while it consumes real Kafka."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.core.bus.kafka import KafkaBus
from services.core.events import MetricPoint
from services.core.topics import TELEMETRY_METRICS
from tests.integration.stack import Stack

START = datetime(2026, 1, 1, tzinfo=UTC)


def _publish(stack: Stack, points: list[MetricPoint]) -> None:
    async def send() -> None:
        bus = KafkaBus([stack.kafka], client_id="observability-test", topic_prefix=stack.prefix)
        await bus.start()
        try:
            await bus.publish(TELEMETRY_METRICS, points)
            await bus.publish_raw(TELEMETRY_METRICS.name, None, b"not json")
        finally:
            await bus.stop()

    asyncio.run(send())


def _samples(text: str) -> dict[str, float]:
    """Sample name -> value, summed over labels."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_detect_serves_health_readiness_and_metrics_on_kafka(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    stack = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    try:
        detect = stack.start("detect")
        base = f"http://127.0.0.1:{detect.ops_port}"
        detect.wait_http_ready(f"{base}/readyz")
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz", timeout=5).json() == {"ready": True, "bus": True}
        points = [
            MetricPoint(
                name="latency",
                labels={"service": "checkout"},
                value=100.0 + i % 5,
                timestamp=START + timedelta(seconds=10 * i),
            )
            for i in range(50)
        ]
        _publish(stack, points)
        deadline = time.monotonic() + 60
        samples: dict[str, float] = {}
        while time.monotonic() < deadline:
            samples = _samples(httpx.get(f"{base}/metrics", timeout=5).text)
            if samples.get("vigil_detect_points_total") == 50:
                break
            time.sleep(0.5)
        assert samples.get("vigil_detect_points_total") == 50, detect.log_tail()
        assert samples["vigil_bus_messages_handled_total"] >= 50
        assert samples["vigil_bus_messages_dead_lettered_total"] == 1
        assert samples["vigil_bus_handler_duration_seconds_count"] >= 50
        assert samples["vigil_detect_series"] == 1
        assert samples["vigil_bus_ready"] == 1
        # The learning loop's gauges (docs/learning.md), per service seen.
        assert samples["vigil_anomaly_score"] == 0 and samples["vigil_failure_probability"] == 0
        # Lag as the broker sees it (end minus committed offsets), once commits settle.
        time.sleep(3)
        text = httpx.get(f"{base}/metrics", timeout=5).text
        lag = [
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "vigil_bus_consumer_lag" and s.labels["topic"] == "telemetry.metrics"
        ]
        assert lag == [stack.detect_lag()]
        assert detect.stop() == 0
    finally:
        stack.stop_all()
