"""How each family of senders expects to be answered (success, partial success, errors).

- OTLP: an Export<Signal>ServiceResponse, with `partial_success` when some items were dropped;
  errors as a google.rpc.Status. Protobuf for protobuf requests, JSON for JSON requests.
- PagerDuty Events v2: {"status", "message", "dedup_key"} / {"status", "message", "errors"}.
- everything else: {"accepted": N} (plus "rejected" by reason) / {"detail": "..."}.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from google.protobuf.message_factory import GetMessageClass
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.responses import Response

from services.ingest.body import PROTOBUF
from services.ingest.formats import Rejections

OTLP_RESPONSES: dict[str, tuple[Any, str]] = {
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records"),
    "traces": (ExportTraceServiceResponse, "rejected_spans"),
}
# HTTP status -> gRPC code, for google.rpc.Status bodies
GRPC_CODES = {400: 3, 401: 16, 413: 3, 415: 3, 429: 8, 503: 14}


def _status_class() -> Any:
    file = descriptor_pb2.FileDescriptorProto(
        name="vigil/google/rpc/status.proto", package="google.rpc", syntax="proto3"
    )
    message = file.message_type.add(name="Status")
    f = descriptor_pb2.FieldDescriptorProto
    message.field.add(name="code", number=1, type=f.TYPE_INT32, label=f.LABEL_OPTIONAL)
    message.field.add(name="message", number=2, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


Status: Any = _status_class()


def otlp_success(signal: str, rejected: Rejections, media: str) -> Response:
    """200 with the signal's export response; partial success when items were dropped."""
    cls, field = OTLP_RESPONSES[signal]
    answer = cls()
    if rejected.total:
        setattr(answer.partial_success, field, rejected.total)
        answer.partial_success.error_message = _summary(rejected)
    return _proto_response(answer, media, 200, {})


def otlp_error(status: int, detail: str, media: str, headers: dict[str, str]) -> Response:
    """An error answered as google.rpc.Status."""
    message = Status(code=GRPC_CODES.get(status, 2), message=detail[:1000])
    return _proto_response(message, media, status, headers)


def _proto_response(message: Any, media: str, status: int, headers: dict[str, str]) -> Response:
    if media == PROTOBUF:
        return Response(message.SerializeToString(), status, headers, media_type=PROTOBUF)
    body = json.dumps(json_format.MessageToDict(message), separators=(",", ":"))
    return Response(body, status, headers, media_type="application/json")


def accepted(count: int, rejected: Rejections, status: int = 200) -> Response:
    """{"accepted": N} and, when some items were dropped, "rejected": {reason: n}."""
    content: dict[str, Any] = {"accepted": count}
    if rejected.total:
        content["rejected"] = dict(rejected.counts)
        content["message"] = rejected.first_message
    return json_response(content, status)


def detail(status: int, text: str, headers: dict[str, str]) -> Response:
    return json_response({"detail": text}, status, headers)


def pagerduty_accepted(dedup_key: str) -> Response:
    content = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    return json_response(content, 202)


def pagerduty_error(status: int, text: str, headers: dict[str, str]) -> Response:
    if status == 429:
        content: dict[str, Any] = {
            "status": "throttle event",
            "message": "Requests are arriving too quickly. Please retry later.",
        }
    else:
        content = {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": [text],
        }
    return json_response(content, status, headers)


def json_response(content: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(content, separators=(",", ":"), default=str)
    return Response(body, status, headers, media_type="application/json")


def _summary(rejected: Rejections) -> str:
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.counts.items()))
    return f"{rejected.total} dropped ({reasons}); first: {rejected.first_message}"[:1000]
