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
    """A forecast or failure-risk estimate for a service.

    Kinds (docs/learning.md): `load_forecast` (`value`: highest forecast load over the next
    buckets, listed in `detail.forecast`), `exhaustion` (`lead_time_s`: until `series` reaches
    its limit), `failure` (`probability` of an incident within `detail.horizon_s`;
    `status` "firing"/"resolved" when it crosses the alert threshold, else null).
    """

    service: str
    kind: str
    probability: float = Field(ge=0, le=1)
    lead_time_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    timestamp: UtcDateTime
    detail: dict[str, Any] = Field(default_factory=dict)
    tenant: str = "default"
    # Added compatibly (older producers leave them out):
    series: str | None = None  # the series the prediction is about, if one
    value: float | None = Field(default=None, allow_inf_nan=False)  # forecast value, if any
    status: Literal["firing", "resolved"] | None = None  # alert transition, if any

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
    # "predicted" while the incident was opened by a failure prediction and nothing real has
    # joined it yet (added compatibly: older producers mean "detected").
    kind: str = "detected"
    # The labels of the incident's signals (first value of each name wins), for routing rules
    # on labels (added compatibly: older producers send none).
    labels: dict[str, str] = Field(default_factory=dict)

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


class RemediationControl(Event):
    """The api's kill switch, for every remediate worker.

    The api sends one copy per partition of `remediation.control` (which is partitioned like
    `remediation.commands`), `slot` being a key that lands on that partition, so every worker
    hears it on a partition it owns.
    """

    kill_switch: bool
    reason: str = ""
    by: str = ""
    at: UtcDateTime = Field(default_factory=utcnow)
    slot: str = "kill-switch"

    def partition_key(self) -> str:
        return self.slot


# --- people and outbound --------------------------------------------------------------------


class FeedbackLabel(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    WRONG_GROUPING = "wrong_grouping"
    ROOT_CAUSE = "root_cause"


class FeedbackSignal(BaseModel):
    """One signal of a labelled incident, as the detectors need it to find and adapt it.

    `series` is the anomaly's series (for metrics `name{labels}`, so `tenant/series` is the
    partition key of its points); the band is the detector's at the firing point.
    """

    model_config = ConfigDict(frozen=True)

    kind: str = "metric"
    series: str = Field(min_length=1, max_length=2048)
    tenant: str = "default"
    service: str = "unknown"
    detector: str = ""
    fired_at: UtcDateTime
    resolved_at: UtcDateTime | None = None
    observed: float | None = Field(default=None, allow_inf_nan=False)
    expected: float | None = Field(default=None, allow_inf_nan=False)
    lower: float | None = Field(default=None, allow_inf_nan=False)
    upper: float | None = Field(default=None, allow_inf_nan=False)


class Feedback(Event):
    """An operator's label on an incident, fed back to the detectors.

    `signals` (added compatibly: old producers send none) lists the incident's firing
    anomalies so that detect can adapt the series involved; see docs/learning.md.
    """

    incident_id: str
    label: FeedbackLabel
    author: str
    comment: str = ""
    series: list[str] = Field(default_factory=list)
    at: UtcDateTime = Field(default_factory=utcnow)
    signals: list[FeedbackSignal] = Field(default_factory=list)

    def partition_key(self) -> str:
        return self.incident_id


# --- model management -------------------------------------------------------------------------


class DetectorParams(BaseModel):
    """A metrics detector configuration: when a series starts and stops firing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fire_threshold: float = Field(default=0.92, gt=0, le=1)
    band_fire_threshold: float = Field(default=0.85, gt=0, le=1)
    sustain_threshold: float = Field(default=0.8, gt=0, le=1)
    fire_after: int = Field(default=2, ge=1, le=100)
    resolve_after: int = Field(default=5, ge=1, le=1000)
    band_margin: float = Field(default=0.25, ge=0, le=10)


class DetectorVersion(BaseModel):
    """A numbered detector configuration."""

    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=0)
    params: DetectorParams = Field(default_factory=DetectorParams)


class ModelControl(Event):
    """What the metrics detectors should run: the live version and an optional shadow.

    The api publishes the whole desired state to the compacted `models.control` topic under
    one key, so the latest message is all a (re)starting worker needs.
    """

    detector: str = "metrics"
    live: DetectorVersion
    shadow: DetectorVersion | None = None
    shadow_run: str | None = None  # id of the shadow run the shadow's results belong to
    at: UtcDateTime = Field(default_factory=utcnow)

    def partition_key(self) -> str:
        return self.detector


class ModelReport(Event):
    """One series' model as a detect worker runs it (compacted `models` topic, per series)."""

    tenant: str = "default"
    series: str
    model_type: str
    version: int = Field(ge=0)
    params: dict[str, Any] = Field(default_factory=dict)
    points: int = Field(ge=0)
    checkpoint_at: UtcDateTime | None = None
    reported_at: UtcDateTime

    def partition_key(self) -> str:
        return f"{self.tenant}/{self.series}"


class ShadowReport(Event):
    """A worker's running totals for one shadow run, and the shadow firings since last time.

    Counts are cumulative per (`shadow_run`, `source`): the api keeps the newest report of
    each source and sums them. Shadow anomalies are recorded, never turned into incidents.
    """

    shadow_run: str
    source: str
    live_version: int = Field(ge=0)
    shadow_version: int = Field(ge=0)
    points: int = Field(ge=0)
    live_firings: int = Field(ge=0)
    shadow_firings: int = Field(ge=0)
    both_firing_points: int = Field(ge=0)
    live_only_points: int = Field(ge=0)
    shadow_only_points: int = Field(ge=0)
    firings: list[Anomaly] = Field(default_factory=list)
    at: UtcDateTime

    def partition_key(self) -> str:
        return f"{self.shadow_run}/{self.source}"


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
