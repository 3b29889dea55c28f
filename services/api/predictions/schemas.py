"""API schemas for predictions and scaling recommendations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PredictionKind = Literal["load_forecast", "exhaustion", "failure"]

_EXAMPLE: dict[str, Any] = {
    "id": "3c1f0e9d8b7a69584736251403f2e1d0",
    "tenant": "default",
    "service": "checkout",
    "kind": "failure",
    "series": None,
    "probability": 0.93,
    "lead_time_s": 1500.0,
    "value": None,
    "status": "firing",
    "at": "2026-11-27T10:00:00Z",
    "received_at": "2026-11-27T10:00:01Z",
    "detail": {
        "horizon_s": 3600,
        "reason": "memory_bytes reaches its limit in 25 min",
        "model": "exhaustion-trend",
    },
}


class PredictionRead(BaseModel):
    """A prediction as stored: see docs/learning.md for each kind's fields."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_EXAMPLE]})

    id: str
    tenant: str
    service: str
    kind: str = Field(description="load_forecast, exhaustion or failure.")
    series: str | None = Field(default=None, description="The series it is about, if one.")
    probability: float = Field(description="failure/exhaustion: within the horizon.")
    lead_time_s: float | None = Field(
        default=None, description="Seconds until the predicted limit or failure."
    )
    value: float | None = Field(
        default=None, description="load_forecast: the highest forecast load of the next buckets."
    )
    status: str | None = Field(
        default=None, description="firing/resolved when a failure prediction crossed its alert."
    )
    at: datetime
    received_at: datetime
    detail: dict[str, Any]


class PredictionPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE]}]})

    items: list[PredictionRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class ScalingRead(BaseModel):
    """The KEDA metrics-api answer: read `predicted_replicas` (valueLocation)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service": "checkout",
                    "predicted_replicas": 6,
                    "undamped_replicas": 4,
                    "forecast_peak": 242.5,
                    "metric": "http_requests_per_second",
                    "forecast_at": "2026-11-27T10:00:00Z",
                    "stale": False,
                }
            ]
        }
    )

    service: str
    predicted_replicas: int = Field(description="Replicas to run now (scale-down damped).")
    undamped_replicas: int = Field(description="What the newest forecast alone asks for.")
    forecast_peak: float | None = Field(
        description="Highest forecast load of the coming buckets (null: no forecast yet)."
    )
    metric: str | None = None
    forecast_at: datetime | None = None
    stale: bool = Field(
        description="True when no forecast is recent enough: the answer is min_replicas."
    )
