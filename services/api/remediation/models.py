"""ORM models of remediation: proposed actions, the decisions on them, stored policies, and
the kill switch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, UTCDateTime


class RemediationAction(Base):
    """An action proposed for an incident, through approval, execution and verification."""

    __tablename__ = "remediation_actions"

    # Also the RemediationCommand id: the idempotency key of its execution.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    # One proposal per (incident, policy, action, target, episode): redeliveries add nothing.
    dedup_key: Mapped[str] = mapped_column(String(32), unique=True)
    policy: Mapped[str] = mapped_column(String(128))
    owner: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    risk: Mapped[str] = mapped_column(String(8))
    # The incident's anomaly kinds (e.g. "metric", "alert"), for success rates per kind.
    incident_kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(128))
    auto_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    required_approvals: Mapped[int] = mapped_column(Integer)
    approvers: Mapped[list[Any]] = mapped_column(JSON)
    approved_by: Mapped[list[Any]] = mapped_column(JSON)
    ttl_s: Mapped[float] = mapped_column(Float)
    escalate_to: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Approved while the kill switch was engaged: sent once it is released.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    result_detail: Mapped[str] = mapped_column(Text, default="")
    result_output: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verdict: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_remediation_actions_created_at_id", "created_at", "id"),
        Index("ix_remediation_actions_state_expires_at", "state", "expires_at"),
    )


class RemediationDecision(Base):
    """One decision on an action: approve, reject, expire; by whom, through what, when."""

    __tablename__ = "remediation_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(
        ForeignKey("remediation_actions.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(128))
    verdict: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="")


class StoredPolicy(Base):
    """A policy created through the API (file policies are read from disk, not stored)."""

    __tablename__ = "remediation_policies"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(128))


class KillSwitchRow(Base):
    """The global kill switch (one row, id 1)."""

    __tablename__ = "remediation_kill_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(128), default="")
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
