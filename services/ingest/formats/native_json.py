"""Vigil's native JSON format for metrics. Pure parsing: bytes in, events out.

POST /v1/json/metrics
    {"points": [{"name": "cpu", "labels": {"service": "api"}, "value": 0.93,
                 "timestamp": "2026-11-27T10:00:00Z"}]}

`timestamp` may be an ISO 8601 string or unix seconds; it defaults to the time of receipt.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.events import MetricPoint, utcnow


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:.]*$")
    labels: dict[str, str] = Field(default_factory=dict, max_length=64)
    value: float = Field(allow_inf_nan=False)
    timestamp: datetime | None = None


class MetricsBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(min_length=1)


def to_points(batch: MetricsBatch, *, tenant: str = "default") -> list[MetricPoint]:
    """Normalise a parsed batch into bus events."""
    now = utcnow()
    return [
        MetricPoint(
            name=p.name,
            labels=p.labels,
            value=p.value,
            timestamp=p.timestamp or now,
            tenant=tenant,
        )
        for p in batch.points
    ]
