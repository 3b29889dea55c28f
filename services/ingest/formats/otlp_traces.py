"""OTLP traces (ExportTraceServiceRequest, protobuf or JSON) -> Span events.

Ids become lowercase hex. The service comes from the resource's `service.name`; resource,
scope and span attributes become the span's attributes, plus `span.kind` and, for failed spans,
`status.message`. A span is an error when its status code is ERROR.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import ValidationError

from services.core.events import Span
from services.ingest.formats import DecodeContext, Decoded, check_items, nanos_to_datetime
from services.ingest.formats.otlp_common import (
    attributes,
    hex_id,
    parse_json,
    parse_protobuf,
    resource_labels,
)

STATUS_ERROR = 2
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def decode_protobuf(body: bytes, context: DecodeContext) -> Decoded:
    """Decode a binary OTLP traces export."""
    return decode_request(parse_protobuf(ExportTraceServiceRequest, body), context)


def decode_json(body: bytes | Any, context: DecodeContext) -> Decoded:
    """Decode an OTLP/JSON traces export."""
    return decode_request(parse_json(ExportTraceServiceRequest, body), context)


def decode_request(request: ExportTraceServiceRequest, context: DecodeContext) -> Decoded:
    """Normalise a parsed export request."""
    out = Decoded()
    check_items(
        sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans), context
    )
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            base = resource_labels(rs.resource.attributes, ss.scope.attributes)
            service = base.pop("service", "unknown")
            for span in ss.spans:
                _span(span, base, service, context, out)
    return out


def _span(span: Any, base: dict[str, str], service: str, ctx: DecodeContext, out: Decoded) -> None:
    trace_id, span_id = hex_id(span.trace_id), hex_id(span.span_id)
    if trace_id is None or span_id is None or len(trace_id) != 32 or len(span_id) != 16:
        out.rejected.add("invalid", "spans: traceId (16 bytes) and spanId (8 bytes) are required")
        return
    parent = hex_id(span.parent_span_id)
    if parent is not None and len(parent) != 16:
        out.rejected.add("invalid", "spans: parentSpanId must be 8 bytes")
        return
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if start <= 0 or end < start:
        out.rejected.add(
            "invalid", "spans: startTimeUnixNano is required and endTimeUnixNano >= it"
        )
        return
    labels = attributes(span.attributes, dict(base))
    if span.kind in KINDS:
        labels["span.kind"] = KINDS[span.kind]
    error = span.status.code == STATUS_ERROR
    if error and span.status.message:
        labels["status.message"] = span.status.message
    try:
        out.spans.append(
            Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                service=service,
                operation=span.name,
                start=nanos_to_datetime(start, ctx.now),
                duration_ms=(end - start) / 1e6,
                error=error,
                attributes=labels,
                tenant=ctx.tenant,
            )
        )
    except ValidationError as exc:
        out.rejected.add("invalid", f"spans: {exc.errors()[0]['msg']}")
