"""ORM models for incidents, the anomalies attached to them, and their timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="default")
    service: Mapped[str] = mapped_column(String(256))
    title: Mapped[str] = mapped_column(String(512))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_signal_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signal_count: Mapped[int] = mapped_column(Integer, default=0)
    # Series (or alert fingerprints) currently firing in this incident.
    firing: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Every service whose signals joined this incident (the first is `service`).
    services: Mapped[list[Any]] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set when the last firing signal recovered but resolution waits for the quiet period.
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    # Recent firing <-> recovered changes (ISO timestamps), for flapping detection; bounded.
    flips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # True while every firing signal is silenced: changes are recorded, not notified.
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    # Root-cause candidates, most likely first ([{service, score, reason, anomalous}]), ranked
    # once signals of several services joined; null before that.
    root_causes: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    # "predicted": opened by a failure prediction, nothing real has joined it yet;
    # "detected": everything else (a real signal joining a predicted incident makes it so).
    kind: Mapped[str] = mapped_column(String(16), default="detected", server_default="detected")
    # Labels of the incident's first signals (the first value of a name wins), merged as they
    # join; null on incidents recorded before labels were kept here (read from the signals).
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index(
            "ix_incidents_tenant_service_status_resolved_at",
            "tenant",
            "service",
            "status",
            "resolved_at",
        ),
        Index("ix_incidents_opened_at_id", "opened_at", "id"),
        Index("ix_incidents_status_opened_at_id", "status", "opened_at", "id"),
        Index("ix_incidents_service_opened_at_id", "service", "opened_at", "id"),
        Index("ix_incidents_updated_at_id", "updated_at", "id"),
        Index("ix_incidents_recovered_at", "recovered_at"),
    )


class Signal(Base):
    """An anomaly (or external alert) received, kept for idempotency and the incident's record."""

    __tablename__ = "signals"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    service: Mapped[str] = mapped_column(String(256))
    series: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The silence (or maintenance window) that matched this signal, if any.
    silenced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


class TimelineEntry(Base):
    """One thing that happened to an incident, in order."""

    __tablename__ = "timeline_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The id of the bus event this entry records (other services' activity), for idempotency.
    event_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
