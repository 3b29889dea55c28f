"""ORM models: notification channels and the delivery status of each notification.

The remediate workers read `notification_channels` directly (services/remediate/notify/
directory.py names its columns): keep those columns stable or change both together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, UTCDateTime


class NotificationChannel(Base):
    """A destination: kind, non-secret settings, the secret encrypted, routing rules."""

    __tablename__ = "notification_channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text, default="")
    secret_token: Mapped[str] = mapped_column(Text, default="")  # Fernet token, never shown
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules: Mapped[list[Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationDelivery(Base):
    """The latest outcome of one notification (from `notifications.results`)."""

    __tablename__ = "notification_deliveries"

    notification_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # delivered | failed (dead-lettered)
    attempts: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
    provider_ref: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
