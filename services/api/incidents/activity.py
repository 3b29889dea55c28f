"""What other services did for an incident, onto its timeline: actions proposed, run and
their outcome (`remediation.requests`, `remediation.results`), notifications sent
(`notifications.results`). Each event is recorded once (timeline `event_id` is unique), so a
redelivery changes nothing; an event for an incident this database does not know is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.bulk import insert_rows
from services.api.incidents.models import Incident, TimelineEntry
from services.core.events import (
    Event,
    NotificationResult,
    RemediationRequest,
    RemediationResult,
    utcnow,
)

log = logging.getLogger(__name__)


def entry_for(event: Event, now: datetime) -> dict[str, Any] | None:
    """The timeline row an event stands for, or None for events that are not activity."""
    if isinstance(event, RemediationRequest):
        kind, actor, at = "action.proposed", event.policy or "remediate", now
        detail: dict[str, Any] = {
            "request_id": event.id,
            "action": event.action,
            "target": event.target,
            "risk": event.risk,
            "params": event.params,
        }
    elif isinstance(event, RemediationResult):
        kind = "action.executed" if event.status == "succeeded" else f"action.{event.status}"
        actor, at = "remediate", event.finished_at
        detail = {
            "command_id": event.command_id,
            "action": event.action,
            "target": event.target,
            "status": event.status,
            "detail": event.detail,
        }
    elif isinstance(event, NotificationResult):
        kind = "notification.sent" if event.status == "delivered" else "notification.failed"
        actor, at = event.channel, now
        # Failed means given up after the retries, and dead-lettered (see notify/pipeline.py).
        outcome = "delivered" if event.status == "delivered" else "failed, dead-lettered"
        detail = {
            "notification_id": event.notification_id,
            "channel": event.channel,
            "status": event.status,
            "attempts": event.attempts,
            "detail": event.detail,
            "summary": f"notification to {event.channel}: {outcome} "
            f"after {event.attempts} attempt{'s' if event.attempts != 1 else ''}",
        }
    else:
        return None
    return {
        "incident_id": event.incident_id,
        "event_id": event.id,
        "at": at,
        "kind": kind,
        "actor": actor[:128],
        "detail": detail,
    }


def record_activity(*, session: Session, events: Sequence[Event]) -> int:
    """Put the events on their incidents' timelines; returns how many entries were added."""
    now = utcnow()
    rows = {e.id: row for e in events if (row := entry_for(e, now)) is not None}
    if not rows:
        return 0
    seen = set(
        session.scalars(select(TimelineEntry.event_id).where(TimelineEntry.event_id.in_(rows)))
    )
    wanted = {i: r for i, r in rows.items() if i not in seen}
    incident_ids = {r["incident_id"] for r in wanted.values()}
    known = set(session.scalars(select(Incident.id).where(Incident.id.in_(incident_ids))))
    fresh = [r for r in wanted.values() if r["incident_id"] in known]
    if len(fresh) < len(wanted):
        log.warning("skipped %d activity events for unknown incidents", len(wanted) - len(fresh))
    insert_rows(session, TimelineEntry, fresh)
    return len(fresh)
