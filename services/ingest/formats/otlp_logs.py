"""OTLP logs (ExportLogsServiceRequest, protobuf or JSON) -> LogRecord events.

The service comes from the resource's `service.name`; the other resource and scope attributes
and the record's own attributes become the record's attributes. The body is kept as text (maps
and arrays as compact JSON). Severity numbers map to Vigil's four levels (TRACE..INFO -> info,
WARN -> warning, ERROR -> error, FATAL -> critical); without a number the text is used.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from pydantic import ValidationError

from services.core.events import LogRecord, Severity
from services.ingest.formats import DecodeContext, Decoded, check_items, nanos_to_datetime
from services.ingest.formats.otlp_common import (
    any_value_to_str,
    attributes,
    hex_id,
    parse_json,
    parse_protobuf,
    resource_labels,
)

_BY_TEXT = (
    (("fatal", "crit", "emerg", "alert", "panic"), Severity.CRITICAL),
    (("err",), Severity.ERROR),
    (("warn",), Severity.WARNING),
)


def decode_protobuf(body: bytes, context: DecodeContext) -> Decoded:
    """Decode a binary OTLP logs export."""
    return decode_request(parse_protobuf(ExportLogsServiceRequest, body), context)


def decode_json(body: bytes | Any, context: DecodeContext) -> Decoded:
    """Decode an OTLP/JSON logs export."""
    return decode_request(parse_json(ExportLogsServiceRequest, body), context)


def severity_of(number: int, text: str) -> Severity:
    """Vigil's severity for an OTLP severity number (1..24) or, without one, its text."""
    if number >= 21:
        return Severity.CRITICAL
    if number >= 17:
        return Severity.ERROR
    if number >= 13:
        return Severity.WARNING
    if number >= 1:
        return Severity.INFO
    lowered = text.strip().lower()
    for prefixes, severity in _BY_TEXT:
        if lowered.startswith(prefixes):
            return severity
    return Severity.INFO


def decode_request(request: ExportLogsServiceRequest, context: DecodeContext) -> Decoded:
    """Normalise a parsed export request."""
    out = Decoded()
    check_items(
        sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs), context
    )
    for rl in request.resource_logs:
        for sl in rl.scope_logs:
            base = resource_labels(rl.resource.attributes, sl.scope.attributes)
            service = base.pop("service", "unknown")
            for record in sl.log_records:
                _record(record, base, service, context, out)
    return out


def _record(
    record: Any, base: dict[str, str], service: str, ctx: DecodeContext, out: Decoded
) -> None:
    trace_id, span_id = hex_id(record.trace_id), hex_id(record.span_id)
    if (trace_id and len(trace_id) != 32) or (span_id and len(span_id) != 16):
        out.rejected.add("invalid", "logRecords: traceId must be 16 bytes and spanId 8 bytes")
        return
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    labels = attributes(record.attributes, dict(base))
    if record.severity_text:
        labels.setdefault("severity_text", record.severity_text)
    try:
        out.logs.append(
            LogRecord(
                timestamp=nanos_to_datetime(nanos, ctx.now),
                service=service,
                severity=severity_of(record.severity_number, record.severity_text),
                body=any_value_to_str(record.body),
                attributes=labels,
                trace_id=trace_id,
                span_id=span_id,
                tenant=ctx.tenant,
            )
        )
    except ValidationError as exc:
        out.rejected.add("invalid", f"logRecords: {exc.errors()[0]['msg']}")
