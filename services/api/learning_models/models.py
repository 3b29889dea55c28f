"""ORM models of model management: model records, detector versions, shadow runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, UTCDateTime


class ModelRecord(Base):
    """The newest report of one series' model (upserted from the `models` topic)."""

    __tablename__ = "model_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # from tenant and series
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    series: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(256), index=True)
    model_type: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    points: Mapped[int] = mapped_column(Integer)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DetectorVersionRow(Base):
    """A numbered detector configuration and where it stands (live, candidate, ...)."""

    __tablename__ = "detector_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    detector: Mapped[str] = mapped_column(String(32), default="metrics")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # live | candidate | retired (was live, replaced) | rolled_back | rejected (shadow stopped)
    status: Mapped[str] = mapped_column(String(16), index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShadowRun(Base):
    """A candidate version scored in shadow beside the live one."""

    __tablename__ = "shadow_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    candidate_version: Mapped[int] = mapped_column(
        ForeignKey("detector_versions.version", ondelete="CASCADE"), index=True
    )
    live_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running|promoted|stopped
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShadowReportRow(Base):
    """The newest running totals of one detect worker (`source`) for a shadow run."""

    __tablename__ = "shadow_reports"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("shadow_runs.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    live_firings: Mapped[int] = mapped_column(Integer, default=0)
    shadow_firings: Mapped[int] = mapped_column(Integer, default=0)
    both_firing_points: Mapped[int] = mapped_column(Integer, default=0)
    live_only_points: Mapped[int] = mapped_column(Integer, default=0)
    shadow_only_points: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShadowAnomaly(Base):
    """An anomaly transition the shadow configuration produced (recorded, never an incident)."""

    __tablename__ = "shadow_anomalies"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    run_id: Mapped[str] = mapped_column(
        ForeignKey("shadow_runs.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[float] = mapped_column(Float)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
