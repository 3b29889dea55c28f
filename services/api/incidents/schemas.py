"""API schemas for incidents, kept apart from the ORM models."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.core.errors import VigilError
from services.core.events import IncidentStatus, Severity

IncidentSort = Literal["-opened_at", "opened_at", "-updated_at", "updated_at"]

_INCIDENT_EXAMPLE: dict[str, Any] = {
    "id": "5f0c1d2e3a4b4c5d8e9f001122334455",
    "tenant": "default",
    "service": "checkout",
    "services": ["checkout", "payments"],
    "title": "http_request_duration_ms anomalous on checkout",
    "severity": "critical",
    "status": "acknowledged",
    "assignee": "alice",
    "opened_at": "2026-11-27T10:00:00Z",
    "updated_at": "2026-11-27T10:03:00Z",
    "acknowledged_at": "2026-11-27T10:02:00Z",
    "resolved_at": None,
    "recovered_at": None,
    "last_signal_at": "2026-11-27T10:01:00Z",
    "signal_count": 3,
    "firing": ['http_request_duration_ms{service="checkout"}'],
    "flapping": False,
    "silenced": False,
    "kind": "detected",
    "root_causes": [
        {
            "service": "payments",
            "score": 0.925,
            "reason": "anomalous from 09:59:30 with no anomalous dependency of its own; "
            "explains checkout",
            "anomalous": True,
        },
        {
            "service": "checkout",
            "score": 0.45,
            "reason": "anomalous from 10:00:00, explained by payments",
            "anomalous": True,
        },
    ],
}


class RootCauseRead(BaseModel):
    """A root-cause candidate of an incident spanning several services."""

    service: str
    score: float = Field(ge=0, le=1, description="How likely, in [0, 1].")
    reason: str
    anomalous: bool = Field(
        default=True, description="False: a dependency of anomalous services, silent itself."
    )


class IncidentBase(BaseModel):
    title: str
    severity: Severity


class IncidentRead(IncidentBase):
    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_INCIDENT_EXAMPLE]}
    )

    id: str
    tenant: str
    service: str = Field(description="The service whose signal opened the incident.")
    services: list[str] = Field(description="Every service whose signals joined it.")
    status: IncidentStatus
    assignee: str | None = None
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None
    recovered_at: datetime | None = Field(
        default=None,
        description="Nothing fires any more; the incident resolves after the quiet period.",
    )
    last_signal_at: datetime
    signal_count: int
    firing: list[str] = Field(description="Series (or alerts) currently firing in it.")
    flapping: bool = Field(default=False, description="Its signals keep firing and recovering.")
    silenced: bool = Field(
        default=False, description="Every signal so far was silenced: not notified."
    )
    kind: Literal["detected", "predicted"] = Field(
        default="detected",
        description="predicted: opened by a failure prediction, nothing observed has joined it "
        "yet (docs/learning.md).",
    )
    root_causes: list[RootCauseRead] = Field(
        default_factory=list,
        description="Most likely root cause first; ranked once signals of several services "
        "joined, from the dependency graph and when each service first fired.",
    )

    @field_validator("root_causes", mode="before")
    @classmethod
    def _unranked_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class IncidentUpdate(BaseModel):
    """Fields to change; omitted fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"severity": "critical"}]}
    )

    severity: Severity | None = None
    title: str | None = Field(default=None, min_length=1, max_length=512)


class ActionRequest(BaseModel):
    """An optional note kept on the timeline with the state change."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "rolled back release 2026.11.27-3"}]}
    )

    note: str = Field(default="", max_length=2000)


class AssignRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"assignee": "alice"}]})

    assignee: str | None = Field(
        max_length=128, description="Who works the incident; null to unassign."
    )


class CommentCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "p99 back to normal after the rollback"}]}
    )

    text: str = Field(min_length=1, max_length=10_000)


class IncidentPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_INCIDENT_EXAMPLE], "next_cursor": "LW9wZW5lZF9hdHwyMDI2..."}]
        }
    )

    items: list[IncidentRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class TimelineEntryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "at": "2026-11-27T10:00:01Z",
                    "kind": "anomaly.firing",
                    "actor": "detect",
                    "detail": {
                        "signal_id": "9a8b7c6d5e4f30211203948576a5b4c3",
                        "series": 'http_request_duration_ms{service="checkout"}',
                        "score": 0.93,
                    },
                }
            ]
        },
    )

    id: int
    at: datetime
    kind: str = Field(
        description="anomaly.firing, anomaly.resolved, alert.firing, alert.resolved, "
        "incident.opened, incident.reopened, incident.acknowledged, incident.mitigating, "
        "incident.resolved, incident.recovered, incident.flapping, incident.assigned, "
        "incident.updated, comment, feedback, action.proposed, action.executed, "
        "action.failed, action.rejected, action.interrupted, notification.sent, "
        "notification.failed, rca.ranked"
    )
    actor: str
    detail: dict[str, Any]


class InvalidCursor(VigilError):
    """The pagination cursor is not one this API issued (or was issued for another sort)."""


def encode_cursor(value: datetime, item_id: str, sort: str = "-opened_at") -> str:
    """An opaque cursor pointing after the given item."""
    raw = f"{sort}|{value.isoformat()}|{item_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, sort: str = "-opened_at") -> tuple[datetime, str]:
    """Parse a cursor made by encode_cursor for the same sort; raises InvalidCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        cursor_sort, stamp, item_id = raw.split("|", 2)
        value = datetime.fromisoformat(stamp)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is malformed; use next_cursor from a previous page") from exc
    if cursor_sort != sort or value.tzinfo is None:
        raise InvalidCursor("cursor belongs to another listing; use next_cursor as given")
    return value, item_id
