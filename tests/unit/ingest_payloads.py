"""Payloads and fakes for the ingest tests.

OTLP payloads are built with the official opentelemetry-proto classes; remote_write bodies
exactly as Prometheus sends them: a prompb WriteRequest, snappy block-compressed. The OTLP
spec's JSON examples (opentelemetry-proto/examples) are reproduced as data.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Sequence
from typing import Any

import cramjam
import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from services.core.bus import InMemoryBus
from services.core.errors import RetryableError
from services.core.events import Event
from services.core.topics import Topic
from services.ingest.app import create_app
from services.ingest.formats.prompb import WriteRequest
from services.ingest.settings import IngestSettings

T0 = 1_800_000_000_000_000_000  # 2027-01-15, in unix nanoseconds
S = 1_000_000_000
CUMULATIVE, DELTA = 2, 1


def kv(key: str, value: Any) -> KeyValue:
    """An OTLP attribute."""
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def metrics_request(
    *metrics: metrics_pb2.Metric, service: str = "checkout", resource: dict[str, Any] | None = None
) -> ExportMetricsServiceRequest:
    """One resource (service.name plus `resource`) with one scope holding `metrics`."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", service))
    rm.resource.attributes.extend(kv(k, v) for k, v in (resource or {}).items())
    sm = rm.scope_metrics.add()
    sm.scope.name = "tests"
    sm.metrics.extend(metrics)
    return request


def gauge(name: str, points: Sequence[tuple[int, float, dict[str, Any]]]) -> metrics_pb2.Metric:
    """A gauge with (time ns, value, attributes) points."""
    metric = metrics_pb2.Metric(name=name)
    for t, value, attrs in points:
        dp = metric.gauge.data_points.add(time_unix_nano=t, as_double=value)
        dp.attributes.extend(kv(k, v) for k, v in attrs.items())
    return metric


def counter(
    name: str,
    points: Sequence[tuple[int, float]],
    *,
    temporality: int = CUMULATIVE,
    monotonic: bool = True,
    start: int = T0 - 3600 * S,
    attrs: dict[str, Any] | None = None,
) -> metrics_pb2.Metric:
    """A sum with (time ns, value) points."""
    metric = metrics_pb2.Metric(name=name)
    metric.sum.is_monotonic = monotonic
    metric.sum.aggregation_temporality = temporality
    for t, value in points:
        dp = metric.sum.data_points.add(time_unix_nano=t, start_time_unix_nano=start)
        dp.as_double = value
        dp.attributes.extend(kv(k, v) for k, v in (attrs or {}).items())
    return metric


def rw_body(series: Sequence[tuple[dict[str, str], Sequence[tuple[float, int]]]]) -> bytes:
    """A remote_write body: WriteRequest of (labels, [(value, ms)]), snappy block format."""
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name in sorted(labels):
            ts.labels.add(name=name, value=labels[name])
        for value, ms in samples:
            ts.samples.add(value=value, timestamp=ms)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


RW_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
PROTOBUF = {"Content-Type": "application/x-protobuf"}


class DownBus(InMemoryBus):
    """A bus whose broker acknowledges nothing."""

    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        raise RetryableError("broker unreachable")

    async def publish_keyed(
        self, topic: Topic, events: Sequence[Event], keys: Sequence[str]
    ) -> None:
        raise RetryableError("broker unreachable")


class GatedBus(InMemoryBus):
    """Holds every publish until `gate` is set: acknowledgements as slow as we like."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        self.waiting += 1
        await self.gate.wait()
        await super().publish(topic, events)


def post(
    app: Any,
    path: str,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request to an ASGI app."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            return await client.post(path, content=content, headers=headers, **kwargs)

    return asyncio.run(go())


def app_with(bus: InMemoryBus | None = None, **settings: Any) -> tuple[Any, InMemoryBus]:
    """An ingest app on an in-memory bus, with settings overridden."""
    bus = bus or InMemoryBus()
    return create_app(IngestSettings(**settings), bus), bus


def otlp_json(request: Any) -> dict[str, Any]:
    """OTLP/JSON of a request, as the spec writes it (hex ids)."""
    from google.protobuf import json_format

    data = json_format.MessageToDict(request)
    return _b64_ids_to_hex(data)


def _b64_ids_to_hex(node: Any) -> Any:
    import base64

    if isinstance(node, dict):
        return {
            k: (
                base64.b64decode(v).hex().upper()
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _b64_ids_to_hex(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_b64_ids_to_hex(v) for v in node]
    return node


# --- the OTLP specification's JSON examples (opentelemetry-proto/examples) ---------------------

_RESOURCE = {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]}
_SCOPE = {
    "name": "my.library",
    "version": "1.0.0",
    "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}],
}


def _attr(key: str) -> list[dict[str, Any]]:
    return [{"key": key, "value": {"stringValue": "some value"}}]


SPEC_METRICS: dict[str, Any] = {
    "resourceMetrics": [
        {
            "resource": _RESOURCE,
            "scopeMetrics": [
                {
                    "scope": _SCOPE,
                    "metrics": [
                        {
                            "name": "my.counter",
                            "unit": "1",
                            "description": "I`m a Counter",
                            "sum": {
                                "aggregationTemporality": 1,
                                "isMonotonic": True,
                                "dataPoints": [
                                    {
                                        "asDouble": 5,
                                        "startTimeUnixNano": 1544712660300000000,
                                        "timeUnixNano": 1544712660300000000,
                                        "attributes": _attr("my.counter.attr"),
                                    }
                                ],
                            },
                        },
                        {
                            "name": "my.gauge",
                            "unit": "1",
                            "description": "I`m a Gauge",
                            "gauge": {
                                "dataPoints": [
                                    {
                                        "asDouble": 10,
                                        "timeUnixNano": 1544712660300000000,
                                        "attributes": _attr("my.gauge.attr"),
                                    }
                                ]
                            },
                        },
                        {
                            "name": "my.histogram",
                            "unit": "1",
                            "description": "I`m a Histogram",
                            "histogram": {
                                "aggregationTemporality": 1,
                                "dataPoints": [
                                    {
                                        "startTimeUnixNano": 1544712660300000000,
                                        "timeUnixNano": 1544712660300000000,
                                        "count": 3,
                                        "sum": 3,
                                        "bucketCounts": [1, 1, 1],
                                        "explicitBounds": [1],
                                        "min": 1,
                                        "max": 1,
                                        "attributes": _attr("my.histogram.attr"),
                                    }
                                ],
                            },
                        },
                    ],
                }
            ],
        }
    ]
}

SPEC_LOGS: dict[str, Any] = {
    "resourceLogs": [
        {
            "resource": _RESOURCE,
            "scopeLogs": [
                {
                    "scope": _SCOPE,
                    "logRecords": [
                        {
                            "timeUnixNano": 1544712660300000000,
                            "observedTimeUnixNano": 1544712660300000000,
                            "severityText": "Information",
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "body": {"stringValue": "Example log record"},
                            "attributes": [
                                {
                                    "key": "string.attribute",
                                    "value": {"stringValue": "some string"},
                                },
                                {"key": "boolean.attribute", "value": {"boolValue": True}},
                                {"key": "int.attribute", "value": {"intValue": 10}},
                                {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                                {
                                    "key": "array.attribute",
                                    "value": {
                                        "arrayValue": {
                                            "values": [
                                                {"stringValue": "many"},
                                                {"stringValue": "values"},
                                            ]
                                        }
                                    },
                                },
                                {
                                    "key": "map.attribute",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [
                                                {
                                                    "key": "some.map.key",
                                                    "value": {"stringValue": "some value"},
                                                }
                                            ]
                                        }
                                    },
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}

SPEC_TRACES: dict[str, Any] = {
    "resourceSpans": [
        {
            "resource": _RESOURCE,
            "scopeSpans": [
                {
                    "scope": _SCOPE,
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "parentSpanId": "EEE19B7EC3C1B173",
                            "name": "I'm a server span",
                            "startTimeUnixNano": 1544712660000000000,
                            "endTimeUnixNano": 1544712661000000000,
                            "kind": 2,
                            "attributes": _attr("my.span.attr"),
                        }
                    ],
                }
            ],
        }
    ]
}


def spec(example: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of a spec example (decoders may not be handed shared mutable data)."""
    return copy.deepcopy(example)


__all__ = [
    "ExportLogsServiceRequest",
    "ExportMetricsServiceRequest",
    "ExportTraceServiceRequest",
]
