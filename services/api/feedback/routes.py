"""REST routes for feedback on incidents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.api.deps import Responder, SessionDep, TransactionDep, Viewer
from services.api.feedback import service
from services.api.feedback.schemas import FeedbackCreate, FeedbackRead
from services.api.openapi import errors

router = APIRouter(prefix="/api/v1/incidents", tags=["feedback"])

IncidentId = Annotated[str, Path(max_length=64)]


@router.post(
    "/{incident_id}/feedback",
    response_model=FeedbackRead,
    status_code=201,
    responses=errors(404),
)
def give_feedback(
    tx: TransactionDep, actor: Responder, incident_id: IncidentId, body: FeedbackCreate
) -> FeedbackRead:
    """Label an incident (responder); the detectors learn from it via the `feedback` topic."""
    with tx() as session:
        entry = service.give(
            session=session,
            incident_id=incident_id,
            actor=actor,
            label=body.label,
            comment=body.comment,
            series=body.series,
        )
        return FeedbackRead.model_validate(entry)


@router.get("/{incident_id}/feedback", response_model=list[FeedbackRead], responses=errors(404))
def list_feedback(session: SessionDep, _: Viewer, incident_id: IncidentId) -> list[FeedbackRead]:
    """Feedback given on an incident, oldest first."""
    rows = service.list_feedback(session=session, incident_id=incident_id)
    return [FeedbackRead.model_validate(r) for r in rows]
