"""The audit log: every write records who did what, when, in the writer's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.audit.models import AuditRecord
from services.api.auth.principal import Principal
from services.core.events import utcnow


def record(
    session: Session,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit record inside the caller's transaction."""
    session.add(AuditRecord(**row(actor, action, target_type, target_id, detail)))


def row(
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit record's columns, for writers that insert many at once (`bulk.insert_rows`)."""
    return {
        "at": utcnow(),
        "actor": actor.name,
        "key_id": actor.key_id,
        "role": actor.role.value,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "detail": detail or {},
    }


def list_records(
    *,
    session: Session,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Sequence[AuditRecord]:
    """Audit records newest first, filtered, keyset-paginated on id."""
    query = select(AuditRecord)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if action:
        query = query.where(AuditRecord.action == action)
    if target_type:
        query = query.where(AuditRecord.target_type == target_type)
    if target_id:
        query = query.where(AuditRecord.target_id == target_id)
    if before_id is not None:
        query = query.where(AuditRecord.id < before_id)
    return session.scalars(query.order_by(AuditRecord.id.desc()).limit(limit)).all()
