"""REST routes for incidents: thin, they parse, call the service layer and shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import SessionDep
from services.api.incidents import service
from services.api.incidents.schemas import (
    IncidentPage,
    IncidentRead,
    TimelineEntryRead,
    decode_cursor,
    encode_cursor,
)
from services.core.errors import NotFound
from services.core.events import IncidentStatus

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


@router.get("", response_model=IncidentPage, summary="List incidents, newest first")
def list_incidents(
    session: SessionDep,
    status: IncidentStatus | None = None,
    service_name: Annotated[str | None, Query(alias="service", max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> IncidentPage:
    """Incidents filtered by status and service, with cursor pagination."""
    before = decode_cursor(cursor) if cursor else None
    rows = service.list_incidents(
        session=session,
        status=status.value if status else None,
        service=service_name,
        limit=limit + 1,
        before=before,
    )
    items = [IncidentRead.model_validate(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.opened_at, last.id)
    return IncidentPage(items=items, next_cursor=next_cursor)


@router.get("/{incident_id}", response_model=IncidentRead, summary="Get one incident")
def get_incident(session: SessionDep, incident_id: str) -> IncidentRead:
    """One incident by id."""
    incident = service.get_incident(session=session, incident_id=incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return IncidentRead.model_validate(incident)


@router.get(
    "/{incident_id}/timeline",
    response_model=list[TimelineEntryRead],
    summary="Everything that happened to an incident",
)
def get_timeline(session: SessionDep, incident_id: str) -> list[TimelineEntryRead]:
    """The incident's timeline, oldest first."""
    if service.get_incident(session=session, incident_id=incident_id) is None:
        raise NotFound(f"incident {incident_id} not found")
    entries = service.timeline(session=session, incident_id=incident_id)
    return [TimelineEntryRead.model_validate(e) for e in entries]
