"""The ingest HTTP contract: status codes, OTLP answers, auth, limits, backpressure, shedding."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from services.core.bus import InMemoryBus
from services.core.events import Anomaly, MetricPoint
from services.core.topics import ANOMALIES, TELEMETRY_METRICS
from services.ingest.app import create_app
from services.ingest.responses import Status
from services.ingest.runner import embedded_app
from services.ingest.settings import IngestSettings
from tests.unit.ingest_payloads import (
    PROTOBUF,
    T0,
    DownBus,
    GatedBus,
    app_with,
    gauge,
    metrics_request,
    otlp_json,
    post,
)


def _points(bus: InMemoryBus) -> list[MetricPoint]:
    return [MetricPoint.model_validate_json(m.value) for m in bus.recent(TELEMETRY_METRICS.name)]


def _otlp(n: int = 1, name: str = "cpu", **labels: str) -> bytes:
    points = [(T0 + i, float(i), {**labels, "i": str(i)}) for i in range(n)]
    return metrics_request(gauge(name, points)).SerializeToString()


def test_otlp_protobuf_is_answered_with_an_export_response_after_publishing() -> None:
    app, bus = app_with()
    response = post(app, "/v1/metrics", content=_otlp(3), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    assert len(_points(bus)) == 3


def test_partial_success_is_reported_the_otlp_way_in_both_encodings() -> None:
    request = metrics_request(gauge("cpu", [(T0, math.nan, {}), (T0, 0.5, {})]))
    app, bus = app_with()
    proto = post(app, "/v1/metrics", content=request.SerializeToString(), headers=PROTOBUF)
    answer = ExportMetricsServiceResponse.FromString(proto.content)
    assert answer.partial_success.rejected_data_points == 1
    assert "non_finite" in answer.partial_success.error_message
    as_json = post(app, "/v1/metrics", json=otlp_json(request))
    assert as_json.status_code == 200
    assert as_json.json()["partialSuccess"]["rejectedDataPoints"] in ("1", 1)
    assert len(_points(bus)) == 2


def test_gzip_bodies_are_accepted_and_bombs_refused() -> None:
    app, bus = app_with(ingest_max_decompressed_bytes=64 * 1024)
    headers = {**PROTOBUF, "Content-Encoding": "gzip"}
    ok = post(app, "/v1/metrics", content=gzip.compress(_otlp(2)), headers=headers)
    assert ok.status_code == 200 and len(_points(bus)) == 2
    bomb = gzip.compress(b"\x00" * 10_000_000)
    assert post(app, "/v1/metrics", content=bomb, headers=headers).status_code == 413
    truncated = gzip.compress(_otlp(2))[:-12]
    assert post(app, "/v1/metrics", content=truncated, headers=headers).status_code == 400


def test_otlp_errors_are_google_rpc_status_in_the_request_encoding() -> None:
    app, _ = app_with()
    proto = post(app, "/v1/metrics", content=b"\x0a\xff", headers=PROTOBUF)
    assert proto.status_code == 400
    status = Status.FromString(proto.content)
    assert status.code == 3 and "ExportMetricsServiceRequest" in status.message
    as_json = post(app, "/v1/metrics", content=b"{", headers={"Content-Type": "application/json"})
    assert as_json.status_code == 400 and "JSON" in as_json.json()["message"]
    wrong = post(app, "/v1/metrics", content=b"x", headers={"Content-Type": "text/plain"})
    assert wrong.status_code == 415


def test_malformed_json_names_the_bad_field() -> None:
    app, _ = app_with()
    body = otlp_json(metrics_request(gauge("cpu", [(T0, 1.0, {})])))
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["gauge"]["dataPoints"][0][
        "timeUnixNano"
    ] = "yesterday"
    response = post(app, "/v1/metrics", json=body)
    assert response.status_code == 400
    assert "timeUnixNano" in response.json()["message"]


def test_tokens_are_required_when_configured_and_pick_the_tenant() -> None:
    app, bus = app_with(ingest_tokens={"s3cret-token-a": "team-a", "s3cret-token-b": "team-b"})
    missing = post(app, "/v1/metrics", content=_otlp(), headers=PROTOBUF)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = {**PROTOBUF, "Authorization": "Bearer nope-nope-nope"}
    assert post(app, "/v1/metrics", content=_otlp(), headers=wrong).status_code == 401
    bearer = {**PROTOBUF, "Authorization": "Bearer s3cret-token-a"}
    assert post(app, "/v1/metrics", content=_otlp(), headers=bearer).status_code == 200
    basic = base64.b64encode(b"prometheus:s3cret-token-b").decode()
    headers = {"Authorization": f"Basic {basic}"}
    assert post(app, "/v1/json/metrics", json=_json_points(1), headers=headers).status_code == 200
    assert [p.tenant for p in _points(bus)] == ["team-a", "team-b"]


def _json_points(n: int, **labels: str) -> dict[str, Any]:
    return {
        "points": [{"name": "m", "labels": {**labels, "i": str(i)}, "value": i} for i in range(n)]
    }


def test_size_limits_are_413() -> None:
    app, _ = app_with(ingest_max_body_bytes=2048, ingest_max_batch=10)
    big = post(app, "/v1/metrics", content=_otlp(200), headers=PROTOBUF)
    assert big.status_code == 413
    many = post(app, "/v1/json/metrics", json=_json_points(11))
    assert many.status_code == 413


def test_unacknowledged_publish_is_a_503_with_retry_after() -> None:
    app, _ = app_with(DownBus())
    response = post(app, "/v1/metrics", content=_otlp(), headers=PROTOBUF)
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def _with_client(app: Any, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await scenario(client)


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.01)


def test_over_the_in_flight_budget_is_a_429_and_nothing_queues() -> None:
    bus = GatedBus()
    app = create_app(IngestSettings(ingest_max_inflight_points=100), bus)

    async def scenario(client: httpx.AsyncClient) -> tuple[int, int, str, int]:
        slow = asyncio.create_task(client.post("/v1/json/metrics", json=_json_points(100)))
        await _until(lambda: bus.waiting == 1)
        refused = await client.post("/v1/json/metrics", json=_json_points(5))
        bus.gate.set()
        done = await slow
        after = await client.post("/v1/json/metrics", json=_json_points(5))
        return (
            done.status_code,
            refused.status_code,
            refused.headers["retry-after"],
            after.status_code,
        )

    assert asyncio.run(_with_client(app, scenario)) == (200, 429, "1", 200)


def test_under_load_low_then_normal_priority_is_shed_and_anomalous_series_keep_flowing() -> None:
    bus = GatedBus()
    app = create_app(IngestSettings(ingest_max_inflight_points=100), bus)
    service = app.state.service
    firing = {"name": "latency", "labels": {"service": "api"}, "value": 9.0}
    service.firing.apply(
        Anomaly(
            status="firing",
            series='latency{service="api"}',
            metric="latency",
            service="api",
            timestamp=datetime.now(UTC),
            score=0.99,
        )
    )
    mixed = {
        "points": [
            {"name": "cpu", "labels": {"service": "api"}, "value": 1.0},
            {"name": "debug", "labels": {"priority": "low"}, "value": 1.0},
            {"name": "errors", "labels": {"priority": "critical"}, "value": 1.0},
            firing,
        ]
    }

    async def scenario(client: httpx.AsyncClient) -> list[dict[str, Any]]:
        answers = []
        for held in (60, 85):  # load 0.6: low is shed; load 0.85: only critical passes
            bus.gate.clear()
            bus.waiting = 0
            slow = asyncio.create_task(client.post("/v1/json/metrics", json=_json_points(held)))
            await _until(lambda: bus.waiting == 1)
            judged = asyncio.create_task(client.post("/v1/json/metrics", json=mixed))
            await _until(lambda: bus.waiting == 2)
            bus.gate.set()
            await slow
            answers.append((await judged).json())
        return answers

    at_60, at_85 = asyncio.run(_with_client(app, scenario))
    assert at_60["accepted"] == 3 and at_60["rejected"] == {"shed_low": 1}
    assert at_85["accepted"] == 2 and at_85["rejected"] == {"shed_normal": 1, "shed_low": 1}
    text = _metrics(app)
    assert 'vigil_ingest_shed_total{priority="normal",signal="metrics"} 1.0' in text
    assert 'vigil_ingest_protected_total{reason="anomalous"} 2.0' in text
    assert 'vigil_ingest_protected_total{reason="critical_label"} 2.0' in text


def _metrics(app: Any) -> str:
    async def go(client: httpx.AsyncClient) -> str:
        return (await client.get("/metrics")).text

    return str(asyncio.run(_with_client(app, go)))


def test_cardinality_caps_drop_new_series_count_them_and_keep_known_ones() -> None:
    app, bus = app_with(ingest_max_series_per_metric=2, ingest_max_series_per_tenant=3)
    first = post(app, "/v1/json/metrics", json=_json_points(3))  # series i=0,1,2 of metric m
    assert first.json() == {
        "accepted": 2,
        "rejected": {"cardinality_metric": 1},
        "message": "series over the metric cardinality cap",
    }
    again = post(app, "/v1/json/metrics", json=_json_points(2))  # known series still pass
    assert again.json() == {"accepted": 2}
    other = {"points": [{"name": f"n{i}", "value": 1} for i in range(3)]}
    assert post(app, "/v1/json/metrics", json=other).json()["rejected"] == {"cardinality_tenant": 2}
    assert len(_points(bus)) == 5
    text = _metrics(app)
    assert 'vigil_ingest_rejected_total{reason="cardinality_metric",signal="metrics"} 1.0' in text
    assert 'vigil_ingest_series{tenant="default"} 3.0' in text


def test_metrics_endpoint_reports_accepted_rejected_and_latency() -> None:
    app, _ = app_with()
    post(app, "/v1/metrics", content=_otlp(4), headers=PROTOBUF)
    post(app, "/v1/metrics", content=b"junk", headers={"Content-Type": "text/plain"})
    text = _metrics(app)
    assert 'vigil_ingest_accepted_total{format="otlp",signal="metrics"} 4.0' in text
    assert (
        'vigil_ingest_rejected_total{reason="unsupported_media_type",signal="metrics"} 1.0' in text
    )
    assert 'vigil_ingest_request_duration_seconds_count{route="/v1/metrics"} 2.0' in text
    assert 'vigil_ingest_requests_total{code="415",route="/v1/metrics"} 1.0' in text


def test_embedded_ingest_follows_anomalies_on_the_bus() -> None:
    async def scenario() -> bool:
        bus = InMemoryBus()
        app = embedded_app(IngestSettings(), bus)
        await bus.start()
        anomaly = Anomaly(
            status="firing",
            series="cpu",
            metric="cpu",
            service="api",
            timestamp=datetime.now(UTC),
            score=0.9,
        )
        await bus.publish(ANOMALIES, [anomaly])
        await bus.drain()
        await bus.stop()
        return "default/cpu" in app.state.service.firing

    assert asyncio.run(scenario())


def test_openapi_lists_every_receiver() -> None:
    app, _ = app_with()
    paths = json.loads(json.dumps(app.openapi()))["paths"]
    for path in ("/v1/metrics", "/v1/logs", "/v1/traces", "/api/v1/write", "/v2/enqueue"):
        assert "post" in paths[path]
    assert "/v1/alerts/alertmanager" in paths and "/v1/json" in paths
