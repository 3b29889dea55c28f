"""API schemas for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_EXAMPLE: dict[str, Any] = {
    "id": 1012,
    "at": "2026-11-27T10:02:00Z",
    "actor": "alice",
    "key_id": "3fa85f6457a1",
    "role": "responder",
    "action": "incident.acknowledge",
    "target_type": "incident",
    "target_id": "5f0c1d2e3a4b4c5d8e9f001122334455",
    "detail": {"from": "open", "to": "acknowledged"},
}


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})

    id: int
    at: datetime
    actor: str = Field(description="Key name, or correlator / sweeper / cli for the system.")
    key_id: str | None
    role: str | None
    action: str
    target_type: str
    target_id: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_EXAMPLE], "next_cursor": "1012"}]}
    )

    items: list[AuditRead]
    next_cursor: str | None = None
