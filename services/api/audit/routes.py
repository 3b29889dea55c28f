"""REST route for reading the audit log (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.audit import service
from services.api.audit.schemas import AuditPage, AuditRead
from services.api.deps import Admin, SessionDep
from services.api.incidents.schemas import InvalidCursor
from services.api.openapi import errors

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, summary="Read the audit log", responses=errors(400))
def list_audit(
    session: SessionDep,
    _: Admin,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["incident.acknowledge"])] = None,
    target_type: Annotated[str | None, Query(max_length=32, examples=["incident"])] = None,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPage:
    """Who did what, when: newest first (admin)."""
    before = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise InvalidCursor("cursor is malformed; use next_cursor from a previous page")
        before = int(cursor)
    rows = service.list_records(
        session=session,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before_id=before,
        limit=limit + 1,
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return AuditPage(
        items=[AuditRead.model_validate(r) for r in rows[:limit]], next_cursor=next_cursor
    )
