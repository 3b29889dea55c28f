"""API schemas for incidents, kept apart from the ORM models."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.errors import VigilError


class IncidentRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c1d2e3a4b4c5d8e9f001122334455",
                    "tenant": "default",
                    "service": "checkout",
                    "title": "http_request_duration_ms anomalous on checkout",
                    "severity": "critical",
                    "status": "open",
                    "opened_at": "2026-11-27T10:00:00Z",
                    "updated_at": "2026-11-27T10:01:00Z",
                    "resolved_at": None,
                    "last_signal_at": "2026-11-27T10:01:00Z",
                    "signal_count": 3,
                    "firing": ['http_request_duration_ms{service="checkout"}'],
                }
            ]
        },
    )

    id: str
    tenant: str
    service: str
    title: str
    severity: str
    status: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    last_signal_at: datetime
    signal_count: int
    firing: list[str] = Field(description="Series currently anomalous in this incident.")


class IncidentPage(BaseModel):
    items: list[IncidentRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class TimelineEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor: str
    detail: dict[str, Any]


class InvalidCursor(VigilError):
    """The pagination cursor is not one this API issued."""


def encode_cursor(opened_at: datetime, incident_id: str) -> str:
    """An opaque cursor pointing after the given incident."""
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{incident_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Parse a cursor made by encode_cursor; raises InvalidCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, incident_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), incident_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is malformed; use next_cursor from a previous page") from exc
