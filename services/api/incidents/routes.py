"""REST routes for incidents: thin, they parse, call the service layer and shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.api.deps import Responder, SessionDep, TransactionDep, Viewer
from services.api.incidents import service
from services.api.incidents.lifecycle import Command
from services.api.incidents.schemas import (
    ActionRequest,
    AssignRequest,
    CommentCreate,
    IncidentPage,
    IncidentRead,
    IncidentSort,
    IncidentUpdate,
    TimelineEntryRead,
    decode_cursor,
    encode_cursor,
)
from services.api.openapi import errors
from services.core.events import IncidentStatus, Severity

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

IncidentId = Annotated[str, Path(max_length=64, description="The incident's id.")]


@router.get("", response_model=IncidentPage, summary="List incidents", responses=errors(400))
def list_incidents(
    session: SessionDep,
    _: Viewer,
    status: Annotated[list[IncidentStatus] | None, Query(description="Repeat for OR.")] = None,
    service_name: Annotated[str | None, Query(alias="service", max_length=256)] = None,
    severity: Annotated[list[Severity] | None, Query(description="Repeat for OR.")] = None,
    assignee: Annotated[str | None, Query(max_length=128)] = None,
    sort: Annotated[IncidentSort, Query(description="`-` sorts newest first.")] = "-opened_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> IncidentPage:
    """Incidents filtered by status, service, severity and assignee; cursor-paginated."""
    before = decode_cursor(cursor, sort) if cursor else None
    rows = service.list_incidents(
        session=session,
        status=[s.value for s in status or []],
        service=service_name,
        severity=[s.value for s in severity or []],
        assignee=assignee,
        sort=sort,
        limit=limit + 1,
        before=before,
    )
    items = [IncidentRead.model_validate(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        value = last.updated_at if sort.endswith("updated_at") else last.opened_at
        next_cursor = encode_cursor(value, last.id, sort)
    return IncidentPage(items=items, next_cursor=next_cursor)


@router.get("/{incident_id}", response_model=IncidentRead, responses=errors(404))
def get_incident(session: SessionDep, _: Viewer, incident_id: IncidentId) -> IncidentRead:
    """One incident by id."""
    return IncidentRead.model_validate(service.require_incident(session, incident_id))


@router.patch("/{incident_id}", response_model=IncidentRead, responses=errors(404))
def update_incident(
    tx: TransactionDep, actor: Responder, incident_id: IncidentId, body: IncidentUpdate
) -> IncidentRead:
    """Change severity or title (responder)."""
    with tx() as session:
        incident = service.update(
            session=session,
            incident_id=incident_id,
            actor=actor,
            severity=body.severity,
            title=body.title,
        )
        return IncidentRead.model_validate(incident)


@router.get(
    "/{incident_id}/timeline",
    response_model=list[TimelineEntryRead],
    summary="Everything that happened to an incident",
    responses=errors(404),
)
def get_timeline(
    session: SessionDep, _: Viewer, incident_id: IncidentId
) -> list[TimelineEntryRead]:
    """The incident's timeline, oldest first."""
    service.require_incident(session, incident_id)
    entries = service.timeline(session=session, incident_id=incident_id)
    return [TimelineEntryRead.model_validate(e) for e in entries]


def _act(
    tx: TransactionDep, actor: Responder, incident_id: str, command: Command, note: str
) -> IncidentRead:
    with tx() as session:
        incident = service.act(
            session=session, incident_id=incident_id, command=command, actor=actor, note_text=note
        )
        return IncidentRead.model_validate(incident)


@router.post("/{incident_id}/acknowledge", response_model=IncidentRead, responses=errors(404, 409))
def acknowledge(
    tx: TransactionDep,
    actor: Responder,
    incident_id: IncidentId,
    body: ActionRequest | None = None,
) -> IncidentRead:
    """open -> acknowledged (responder). Already acknowledged: no change."""
    return _act(tx, actor, incident_id, Command.ACKNOWLEDGE, body.note if body else "")


@router.post("/{incident_id}/mitigate", response_model=IncidentRead, responses=errors(404, 409))
def mitigate(
    tx: TransactionDep,
    actor: Responder,
    incident_id: IncidentId,
    body: ActionRequest | None = None,
) -> IncidentRead:
    """open or acknowledged -> mitigating (responder)."""
    return _act(tx, actor, incident_id, Command.MITIGATE, body.note if body else "")


@router.post("/{incident_id}/resolve", response_model=IncidentRead, responses=errors(404, 409))
def resolve(
    tx: TransactionDep,
    actor: Responder,
    incident_id: IncidentId,
    body: ActionRequest | None = None,
) -> IncidentRead:
    """Any state -> resolved (responder). A signal firing again soon reopens it."""
    return _act(tx, actor, incident_id, Command.RESOLVE, body.note if body else "")


@router.post("/{incident_id}/reopen", response_model=IncidentRead, responses=errors(404, 409))
def reopen(
    tx: TransactionDep,
    actor: Responder,
    incident_id: IncidentId,
    body: ActionRequest | None = None,
) -> IncidentRead:
    """resolved -> open (responder)."""
    return _act(tx, actor, incident_id, Command.REOPEN, body.note if body else "")


@router.post("/{incident_id}/assign", response_model=IncidentRead, responses=errors(404))
def assign(
    tx: TransactionDep, actor: Responder, incident_id: IncidentId, body: AssignRequest
) -> IncidentRead:
    """Set or clear the assignee (responder)."""
    with tx() as session:
        incident = service.assign(
            session=session, incident_id=incident_id, assignee=body.assignee, actor=actor
        )
        return IncidentRead.model_validate(incident)


@router.post(
    "/{incident_id}/comments",
    response_model=TimelineEntryRead,
    status_code=201,
    responses=errors(404),
)
def add_comment(
    tx: TransactionDep, actor: Responder, incident_id: IncidentId, body: CommentCreate
) -> TimelineEntryRead:
    """Add a comment to the timeline (responder)."""
    with tx() as session:
        entry = service.comment(
            session=session, incident_id=incident_id, text=body.text, actor=actor
        )
        return TimelineEntryRead.model_validate(entry)
