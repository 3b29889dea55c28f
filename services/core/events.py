"""Versioned event schemas: the contract between services.

Every message on the bus is one of these pydantic models, serialised as JSON. Each carries
`schema_version` so consumers can accept old and new producers side by side, and an `id` so a
redelivered message can be recognised and ignored. `partition_key()` decides the Kafka key:
all events of one series (or one service, or one incident) land on one partition.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random 128-bit event id, as 32 hex characters."""
    return os.urandom(16).hex()


def stable_id(*parts: object) -> str:
    """A deterministic id from parts, so that re-processing the same input yields the same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:32]


def series_key(name: str, labels: dict[str, str]) -> str:
    """Identity of a time series: metric name plus its labels in sorted order."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{labels[k]}"' for k in sorted(labels))
    return f"{name}{{{inner}}}"


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC so that every service compares like with like.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


class Event(BaseModel):
    """Base of every bus message."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: int = 1
    id: str = Field(default_factory=new_id, min_length=1, max_length=128)

    def partition_key(self) -> str:
        """Key used to pick the partition; subclasses group related events."""
        return self.id


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


# --- telemetry -----------------------------------------------------------------------------


class MetricPoint(Event):
    """One sample of one time series."""

    name: str = Field(min_length=1, max_length=256)
    labels: dict[str, str] = Field(default_factory=dict)
    value: float = Field(allow_inf_nan=False)
    timestamp: UtcDateTime
    tenant: str = "default"

    @property
    def series(self) -> str:
        return series_key(self.name, self.labels)

    @property
    def service(self) -> str:
        return self.labels.get("service", "unknown")

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.series}"


class LogRecord(Event):
    """One log line, with the service that wrote it."""

    timestamp: UtcDateTime
    service: str = "unknown"
    severity: Severity = Severity.INFO
    body: str
    attributes: dict[str, str] = Field(default_factory=dict)
    trace_id: str | None = None
    span_id: str | None = None
    tenant: str = "default"

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.service}"


class Span(Event):
    """One finished span of a distributed trace."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    service: str
    operation: str
    start: UtcDateTime
    duration_ms: float = Field(ge=0, allow_inf_nan=False)
    error: bool = False
    attributes: dict[str, str] = Field(default_factory=dict)
    tenant: str = "default"

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.service}"


class ExternalAlert(Event):
    """An alert raised by another tool (Alertmanager, PagerDuty-compatible senders, JSON)."""

    source: str
    fingerprint: str
    status: Literal["firing", "resolved"]
    severity: Severity = Severity.WARNING
    service: str = "unknown"
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    starts_at: UtcDateTime
    ends_at: UtcDateTime | None = None
    tenant: str = "default"

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.service}"


# --- detection ------------------------------------------------------------------------------


class Explanation(BaseModel):
    """Why a detector fired: what it expected, what it saw, and which component spoke."""

    model_config = ConfigDict(frozen=True)

    observed: float
    expected: float
    lower: float
    upper: float
    component: str
    detail: str = ""


class Anomaly(Event):
    """A series entering (`firing`) or leaving (`resolved`) an anomalous state."""

    status: Literal["firing", "resolved"]
    series: str
    metric: str
    service: str
    labels: dict[str, str] = Field(default_factory=dict)
    timestamp: UtcDateTime
    score: float = Field(ge=0, le=1, allow_inf_nan=False)
    severity: Severity = Severity.WARNING
    kind: str = "metric"
    detector: str = ""
    explanation: Explanation | None = None
    tenant: str = "default"

    def partition_key(self) -> str:
        # Correlation works per service, so all anomalies of a service share a partition.
        return f"{self.tenant}/{self.service}"


class Prediction(Event):
    """A forecast or failure-risk estimate for a service."""

    service: str
    kind: str
    probability: float = Field(ge=0, le=1)
    lead_time_s: float | None = None
    timestamp: UtcDateTime
    detail: dict[str, Any] = Field(default_factory=dict)
    tenant: str = "default"

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.service}"


class TopologyEdge(BaseModel):
    """One caller -> callee dependency seen in traces, with its recent traffic."""

    model_config = ConfigDict(frozen=True)

    caller: str
    callee: str
    calls: int = Field(ge=0)  # calls seen since the edge (re)appeared
    errors: int = Field(ge=0)  # of which failed
    first_seen: UtcDateTime
    last_seen: UtcDateTime


class TopologySnapshot(Event):
    """The service dependency graph as one traces worker (`source`) currently sees it.

    Published periodically to the compacted `topology` topic, keyed by tenant and source, so
    the latest snapshot of every worker survives; a reader merges them and may drop edges whose
    `last_seen` is old. Edges go caller -> callee; one that carried no traffic for a while is
    aged out of the next snapshot.
    """

    tenant: str = "default"
    source: str = "detect"
    at: UtcDateTime
    services: list[str] = Field(default_factory=list)
    edges: list[TopologyEdge] = Field(default_factory=list)

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.source}"


# --- incidents ------------------------------------------------------------------------------


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MITIGATING = "mitigating"
    RESOLVED = "resolved"


class IncidentEventType(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    MITIGATING = "mitigating"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ASSIGNED = "assigned"
    COMMENTED = "commented"


class IncidentEvent(Event):
    """A change to an incident, published after it is stored.

    `silenced` is true while every firing signal of the incident matched a silence or a
    maintenance window: the change is recorded and streamed, but must not be notified.
    """

    type: IncidentEventType
    incident_id: str
    title: str
    service: str
    severity: Severity
    status: IncidentStatus
    opened_at: UtcDateTime
    resolved_at: UtcDateTime | None = None
    at: UtcDateTime = Field(default_factory=utcnow)
    tenant: str = "default"
    services: list[str] = Field(default_factory=list)
    assignee: str | None = None
    silenced: bool = False
    actor: str = ""

    def partition_key(self) -> str:
        return self.incident_id


# --- remediation ----------------------------------------------------------------------------


class RemediationRequest(Event):
    """An action proposed for an incident, waiting for approval."""

    incident_id: str
    action: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Literal["low", "medium", "high"] = "medium"
    policy: str = ""

    def partition_key(self) -> str:
        return self.incident_id


class RemediationCommand(Event):
    """An approved action to execute. `id` is the idempotency key: it runs at most once."""

    incident_id: str
    request_id: str
    action: str
    target: str
    params: dict[str, Any] = Field(default_factory=dict)
    approved_by: list[str] = Field(default_factory=list)

    def partition_key(self) -> str:
        return self.target


class RemediationResult(Event):
    """What happened when a command ran."""

    command_id: str
    incident_id: str
    # `interrupted`: the worker died mid-action; the command was not run again (see
    # docs/remediation.md). `rejected`: refused before running (safety rails, no executor).
    status: Literal["succeeded", "failed", "rejected", "interrupted"]
    detail: str = ""
    finished_at: UtcDateTime = Field(default_factory=utcnow)
    action: str = ""
    target: str = ""
    started_at: UtcDateTime | None = None
    # What the executor observed or changed (e.g. previous replicas), enough to roll back.
    output: dict[str, Any] = Field(default_factory=dict)

    def partition_key(self) -> str:
        return self.incident_id


# --- people and outbound --------------------------------------------------------------------


class FeedbackLabel(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    WRONG_GROUPING = "wrong_grouping"
    ROOT_CAUSE = "root_cause"


class Feedback(Event):
    """An operator's label on an incident, fed back to the detectors."""

    incident_id: str
    label: FeedbackLabel
    author: str
    comment: str = ""
    series: list[str] = Field(default_factory=list)
    at: UtcDateTime = Field(default_factory=utcnow)

    def partition_key(self) -> str:
        return self.incident_id


class Notification(Event):
    """A message to deliver to a channel (Slack, Teams, PagerDuty, Opsgenie, webhook, email)."""

    channel: str
    incident_id: str
    event_type: str
    payload: dict[str, Any] = Field(default_factory=dict)

    def partition_key(self) -> str:
        return self.incident_id


class NotificationResult(Event):
    """Outcome of one delivery attempt sequence."""

    notification_id: str
    channel: str
    incident_id: str
    status: Literal["delivered", "failed"]
    attempts: int = 1
    detail: str = ""
    # The tool's handle on the message (Slack ts, PagerDuty dedup key, e-mail Message-ID).
    provider_ref: str = ""

    def partition_key(self) -> str:
        return self.incident_id


class DeadLetter(BaseModel):
    """A message that could not be handled, with the reason, written to `<topic>.dlq`."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str
    reason: str
    failed_at: UtcDateTime = Field(default_factory=utcnow)
