"""Operator feedback: stored, put on the incident's timeline, and published to `feedback`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.feedback.models import FeedbackEntry
from services.api.feedback.signals import incident_signals
from services.api.incidents import lifecycle
from services.api.incidents.lifecycle import Command
from services.api.incidents.service import note, require_incident
from services.api.outbox import enqueue
from services.core.events import Feedback, FeedbackLabel, new_id, utcnow
from services.core.topics import FEEDBACK


def give(
    *,
    session: Session,
    incident_id: str,
    actor: Principal,
    label: FeedbackLabel,
    comment: str = "",
    series: Sequence[str] = (),
) -> FeedbackEntry:
    """Record feedback on an incident; the learning loop receives it from the outbox."""
    lifecycle.authorize(Command.FEEDBACK, actor.role)
    incident = require_incident(session, incident_id)
    now = utcnow()
    entry = FeedbackEntry(
        id=new_id(),
        incident_id=incident.id,
        label=label.value,
        comment=comment,
        series=list(series),
        author=actor.name,
        created_at=now,
    )
    session.add(entry)
    detail: dict[str, Any] = {"feedback_id": entry.id, "label": label.value, "comment": comment}
    if series:
        detail["series"] = list(series)
    note(session, incident.id, "feedback", actor.label, detail, now)
    audit.record(
        session,
        actor=actor,
        action="incident.feedback",
        target_type="incident",
        target_id=incident.id,
        detail=detail,
    )
    event = Feedback(
        id=entry.id,
        incident_id=incident.id,
        label=label,
        author=actor.name,
        comment=comment,
        series=list(series),
        at=now,
        signals=incident_signals(session, incident.id),
    )
    enqueue(session, FEEDBACK, event)
    return entry


def list_feedback(*, session: Session, incident_id: str) -> Sequence[FeedbackEntry]:
    """Feedback on an incident, oldest first."""
    require_incident(session, incident_id)
    query = (
        select(FeedbackEntry)
        .where(FeedbackEntry.incident_id == incident_id)
        .order_by(FeedbackEntry.created_at, FeedbackEntry.id)
    )
    return session.scalars(query).all()
