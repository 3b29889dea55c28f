"""API schemas of model management."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.events import DetectorParams


class ModelRecordRead(BaseModel):
    """One series' model as its detect worker last reported it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant: str
    series: str
    service: str
    model_type: str
    version: int
    params: dict[str, Any]
    points: int
    checkpoint_at: datetime | None
    reported_at: datetime


class ModelRecordPage(BaseModel):
    items: list[ModelRecordRead]
    total: int


class VersionRead(BaseModel):
    """A numbered detector configuration."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    detector: str
    params: DetectorParams
    status: str = Field(description="live, candidate, retired, rolled_back or rejected.")
    comment: str
    created_by: str
    created_at: datetime
    promoted_at: datetime | None


class CandidateCreate(BaseModel):
    """A candidate configuration to score in shadow beside the live one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"params": {"fire_threshold": 0.95, "fire_after": 3}, "comment": "quieter"}
            ]
        },
    )

    params: DetectorParams = Field(
        default_factory=DetectorParams,
        description="Thresholds of the candidate; fields left out keep their defaults.",
    )
    comment: str = Field(default="", max_length=2000)


class ShadowRunRead(BaseModel):
    """A shadow run: the candidate, the live version it runs beside, and its state."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    candidate_version: int
    live_version: int
    status: str = Field(description="running, promoted or stopped.")
    started_by: str
    started_at: datetime
    ended_by: str | None
    ended_at: datetime | None


class Comparison(BaseModel):
    """The live and the shadow configuration on the same stream, summed over workers."""

    run: ShadowRunRead
    workers: int
    points: int
    live_firings: int
    shadow_firings: int
    both_firing_points: int
    live_only_points: int
    shadow_only_points: int
    agreement: float = Field(
        description="Points where both agree on firing, over points where either fires "
        "(1.0 when neither ever fired)."
    )
    shadow_anomalies: int = Field(description="Shadow transitions recorded (no incidents).")
    recent_shadow_anomalies: list[dict[str, Any]]


class RollbackRequest(BaseModel):
    """Which version to go back to (default: the one live before the current one)."""

    model_config = ConfigDict(extra="forbid")

    to_version: int | None = Field(default=None, ge=0)
    comment: str = Field(default="", max_length=2000)


class EndRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2000)
