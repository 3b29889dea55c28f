"""API schemas for the service dependency graph learned from traces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_TOPOLOGY_EXAMPLE: dict[str, Any] = {
    "tenant": "default",
    "services": ["checkout", "frontend", "payments"],
    "edges": [
        {
            "caller": "checkout",
            "callee": "payments",
            "calls": 5120,
            "errors": 37,
            "last_seen": "2026-11-27T10:00:00Z",
        },
        {
            "caller": "frontend",
            "callee": "checkout",
            "calls": 9800,
            "errors": 12,
            "last_seen": "2026-11-27T10:00:05Z",
        },
    ],
}


class EdgeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    caller: str
    callee: str
    calls: int = Field(description="Calls seen since the edge (re)appeared, over all sources.")
    errors: int = Field(description="Of which failed.")
    last_seen: datetime


class TopologyRead(BaseModel):
    """The merged current dependency graph of a tenant."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TOPOLOGY_EXAMPLE]})

    tenant: str
    services: list[str] = Field(description="Every service at either end of an edge, sorted.")
    edges: list[EdgeRead] = Field(description="caller -> callee, sorted by caller then callee.")
