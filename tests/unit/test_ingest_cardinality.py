"""Cardinality guard for logs (services per tenant) and traces (operations per service)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from services.core.bus import InMemoryBus
from services.core.events import LogRecord, Span
from services.core.topics import TELEMETRY_LOGS, TELEMETRY_TRACES
from services.ingest.guard import CardinalityGuard, admit_logs, admit_spans
from tests.unit.ingest_payloads import PROTOBUF, T0, app_with, kv, post

NOW = datetime(2027, 1, 15, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _log(service: str, tenant: str = "default") -> LogRecord:
    return LogRecord(timestamp=NOW, service=service, body="hello", tenant=tenant)


def _span(service: str, operation: str) -> Span:
    return Span(
        trace_id="1" * 32,
        span_id="2" * 16,
        service=service,
        operation=operation,
        start=NOW,
        duration_ms=1.0,
    )


def _guard(group: int, tenant: int, clock: FakeClock, **kw: object) -> CardinalityGuard:
    return CardinalityGuard(
        per_metric=group, per_tenant=tenant, max_tenants=2, ttl_s=60, clock=clock, **kw
    )


def test_logs_of_new_services_over_the_tenant_cap_are_dropped_and_known_ones_pass() -> None:
    guard = _guard(2, 2, FakeClock())
    kept, dropped = admit_logs(guard, "t", [_log("a"), _log("b"), _log("c"), _log("a")])
    assert [r.service for r in kept] == ["a", "b", "a"]
    assert dropped == {"cardinality_tenant": 1}
    kept, dropped = admit_logs(guard, "t", [_log("b"), _log("d")])
    assert [r.service for r in kept] == ["b"] and dropped == {"cardinality_tenant": 1}
    assert guard.series("t") == 2
    kept, dropped = admit_logs(guard, "u", [_log("c", "u")])  # caps are per tenant
    assert len(kept) == 1 and not dropped


def test_span_operations_are_capped_per_service_and_pairs_per_tenant() -> None:
    guard = _guard(2, 4, FakeClock(), group_reason="cardinality_service")
    spans = [_span("api", f"GET /users/{i}") for i in range(4)] + [_span("db", "query")]
    kept, dropped = admit_spans(guard, "t", spans)
    assert [(s.service, s.operation) for s in kept] == [
        ("api", "GET /users/0"),
        ("api", "GET /users/1"),
        ("db", "query"),
    ]
    assert dropped == {"cardinality_service": 2}
    kept, dropped = admit_spans(guard, "t", [_span("web", "GET /"), _span("web", "POST /")])
    assert [s.operation for s in kept] == ["GET /"]
    assert dropped == {"cardinality_tenant": 1}


def test_unseen_streams_expire_and_free_their_place_under_the_caps() -> None:
    clock = FakeClock()
    guard = _guard(1, 1, clock)
    assert len(admit_logs(guard, "t", [_log("a")])[0]) == 1
    assert admit_logs(guard, "t", [_log("b")])[1] == {"cardinality_tenant": 1}
    clock.now += 61
    assert len(admit_logs(guard, "t", [_log("b")])[0]) == 1
    assert guard.series("t") == 1


def test_tenants_are_bounded_too() -> None:
    guard = _guard(5, 5, FakeClock())
    for tenant in ("t1", "t2"):
        assert len(admit_logs(guard, tenant, [_log("a", tenant)])[0]) == 1
    kept, dropped = admit_logs(guard, "t3", [_log("a", "t3"), _log("b", "t3")])
    assert kept == [] and dropped == {"cardinality_tenant": 2}
    assert guard.tenants() == 2


def _logs_body(services: list[str]) -> bytes:
    request = ExportLogsServiceRequest()
    for service in services:
        rl = request.resource_logs.add()
        rl.resource.attributes.append(kv("service.name", service))
        rl.scope_logs.add().log_records.add(time_unix_nano=T0, severity_number=17)
    return request.SerializeToString()


def _traces_body(operations: list[str]) -> bytes:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.append(kv("service.name", "api"))
    spans = rs.scope_spans.add().spans
    for i, name in enumerate(operations):
        span = spans.add(trace_id=b"\x01" * 16, span_id=bytes([i + 1]) * 8, name=name)
        span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 1_000_000
    return request.SerializeToString()


def _metrics_text(app: object) -> str:
    async def go() -> str:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            return (await client.get("/metrics")).text

    return asyncio.run(go())


def test_otlp_logs_over_the_cap_are_a_partial_success_counted_on_metrics() -> None:
    app, bus = app_with(InMemoryBus(), ingest_max_log_services_per_tenant=2)
    response = post(app, "/v1/logs", content=_logs_body(["a", "b", "c"]), headers=PROTOBUF)
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert response.status_code == 200
    assert answer.partial_success.rejected_log_records == 1
    assert "tenant cardinality cap" in answer.partial_success.error_message
    published = [LogRecord.model_validate_json(m.value) for m in bus.recent(TELEMETRY_LOGS.name)]
    assert sorted(r.service for r in published) == ["a", "b"]
    text = _metrics_text(app)
    assert 'vigil_ingest_rejected_total{reason="cardinality_tenant",signal="logs"} 1.0' in text
    assert 'vigil_ingest_streams{signal="logs",tenant="default"} 2.0' in text


def test_otlp_span_operations_over_the_cap_are_a_partial_success_counted_on_metrics() -> None:
    app, bus = app_with(InMemoryBus(), ingest_max_operations_per_service=2)
    body = _traces_body(["GET /users/1", "GET /users/2", "GET /users/3", "GET /users/1"])
    response = post(app, "/v1/traces", content=body, headers=PROTOBUF)
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    published = [Span.model_validate_json(m.value) for m in bus.recent(TELEMETRY_TRACES.name)]
    assert sorted(s.operation for s in published) == [
        "GET /users/1",
        "GET /users/1",
        "GET /users/2",
    ]
    text = _metrics_text(app)
    assert 'vigil_ingest_rejected_total{reason="cardinality_service",signal="traces"} 1.0' in text
    assert 'vigil_ingest_streams{signal="traces",tenant="default"} 2.0' in text
