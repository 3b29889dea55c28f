"""Vigil's native JSON formats. Pure parsing: parsed JSON in, events out.

POST /v1/json/metrics
    {"points": [{"name": "cpu", "labels": {"service": "api"}, "value": 0.93,
                 "timestamp": "2026-11-27T10:00:00Z"}]}

POST /v1/json (metrics, logs and events in one batch; at least one item)
    {"metrics": [<point as above>],
     "logs": [{"service": "api", "severity": "error", "body": "timeout", "attributes": {}}],
     "events": [{"fingerprint": "disk-full-db1", "status": "firing", "severity": "critical",
                 "service": "db", "summary": "disk full", "labels": {}}]}

Timestamps may be ISO 8601 strings or unix seconds; they default to the time of receipt.
Values are taken as they are: native points are already normalised (no rate conversion).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.core.events import ExternalAlert, LogRecord, Severity, stable_id
from services.ingest.formats import (
    DecodeContext,
    Decoded,
    DecodeError,
    check_items,
    emit_point,
    label_block,
)
from services.ingest.formats.validation import first_error

T = TypeVar("T", bound=BaseModel)


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:.]*$")
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    value: float = Field(allow_inf_nan=False)
    timestamp: datetime | None = None


class MetricsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(min_length=1)


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: datetime | None = None
    service: str = Field(default="unknown", min_length=1, max_length=256)
    severity: Severity = Severity.INFO
    body: str = Field(max_length=64 * 1024)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=128)
    trace_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    span_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="json", min_length=1, max_length=64)
    fingerprint: str = Field(min_length=1, max_length=256)
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = Severity.WARNING
    service: str = Field(default="unknown", min_length=1, max_length=256)
    summary: str = Field(default="", max_length=2000)
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[PointIn] = Field(default_factory=list)
    logs: list[LogIn] = Field(default_factory=list)
    events: list[EventIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Batch:
        if not (self.metrics or self.logs or self.events):
            raise ValueError("at least one of metrics, logs or events must be non-empty")
        return self


def decode_metrics(data: Any, context: DecodeContext) -> Decoded:
    """Decode a /v1/json/metrics body."""
    if isinstance(data, dict) and isinstance(data.get("points"), list):
        check_items(len(data["points"]), context)
    batch = _validate(MetricsBatch, data)
    out = Decoded()
    for p in batch.points:
        _emit(out, p, context)
    return out


def decode_batch(data: Any, context: DecodeContext) -> Decoded:
    """Decode a /v1/json body (metrics, logs and events)."""
    if isinstance(data, dict):
        check_items(sum(len(v) for v in data.values() if isinstance(v, list)), context)
    batch = _validate(Batch, data)
    now, tenant = context.now, context.tenant
    out = Decoded()
    for p in batch.metrics:
        _emit(out, p, context)
    out.logs = [
        LogRecord(
            timestamp=log.timestamp or now,
            service=log.service,
            severity=log.severity,
            body=log.body,
            attributes=log.attributes,
            trace_id=log.trace_id,
            span_id=log.span_id,
            tenant=tenant,
        )
        for log in batch.logs
    ]
    out.alerts = [_alert(event, now, tenant) for event in batch.events]
    return out


def _validate(model: type[T], data: Any) -> T:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(*first_error(exc)) from None


def _emit(out: Decoded, p: PointIn, ctx: DecodeContext) -> None:
    labels = p.labels
    emit_point(out, ctx, p.name, labels, label_block(labels), p.value, p.timestamp or ctx.now)


def _alert(event: EventIn, now: datetime, tenant: str) -> ExternalAlert:
    starts_at = event.starts_at or now
    return ExternalAlert(
        id=stable_id(event.source, tenant, event.fingerprint, event.status, starts_at),
        source=event.source,
        fingerprint=event.fingerprint,
        status=event.status,
        severity=event.severity,
        service=event.service,
        summary=event.summary,
        labels=event.labels,
        starts_at=starts_at,
        ends_at=event.ends_at,
        tenant=tenant,
    )
