"""ORM model of predictions received from the detect service's learning loop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, UTCDateTime


class PredictionRecord(Base):
    """One `Prediction` event: a load forecast, an exhaustion forecast or a failure risk."""

    __tablename__ = "predictions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(32))
    series: Mapped[str | None] = mapped_column(Text, nullable=True)
    probability: Mapped[float] = mapped_column(Float)
    lead_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_predictions_at_id", "at", "id"),
        Index("ix_predictions_tenant_service_kind_at", "tenant", "service", "kind", "at"),
    )
