"""Incident service layer: queries, people's actions, and the quiet-period sweep.

Every function takes a session inside the caller's transaction and writes, in that same
transaction, the incident change, its timeline entry, an audit record and the outgoing event
(outbox). Recording signals (anomalies, external alerts) lives in `signals.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import SWEEPER, Principal
from services.api.incidents import lifecycle, quiet
from services.api.incidents.lifecycle import Command
from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.outbox import enqueue
from services.core.errors import NotFound
from services.core.events import (
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    Severity,
    new_id,
    utcnow,
)
from services.core.topics import INCIDENTS

SORTS = {
    "-opened_at": (Incident.opened_at, True),
    "opened_at": (Incident.opened_at, False),
    "-updated_at": (Incident.updated_at, True),
    "updated_at": (Incident.updated_at, False),
}

_EVENT_FOR = {
    Command.ACKNOWLEDGE: IncidentEventType.ACKNOWLEDGED,
    Command.MITIGATE: IncidentEventType.MITIGATING,
    Command.RESOLVE: IncidentEventType.RESOLVED,
    Command.REOPEN: IncidentEventType.REOPENED,
}


# -- events, timeline ------------------------------------------------------------------------


MAX_LABELS = 64  # labels an incident event carries at most (routing needs a handful)
LABEL_SIGNALS = 50  # the incident's first signals its labels are read from


def merge_labels(label_maps: Iterable[object]) -> dict[str, str]:
    """Union of signals' label maps in order, the first value of each name winning.

    Examples
    --------
    >>> merge_labels([{"env": "prod", "team": "shop"}, {"env": "dev", "region": "eu"}, None])
    {'env': 'prod', 'team': 'shop', 'region': 'eu'}
    """
    merged: dict[str, str] = {}
    for labels in label_maps:
        if not isinstance(labels, Mapping):
            continue
        for key, value in labels.items():
            if len(merged) >= MAX_LABELS:
                return merged
            merged.setdefault(str(key), str(value))
    return merged


def labels_of(session: Session, incident: Incident) -> dict[str, str]:
    """An incident's labels: kept on the incident, or (recorded before they were kept there)
    read from its first stored signals, the first value of a name winning."""
    if incident.labels is not None:
        return dict(incident.labels)
    with session.no_autoflush:  # reading must not flush the caller's half-done changes
        stored = session.scalars(
            select(Signal.payload)
            .where(Signal.incident_id == incident.id)
            .order_by(Signal.received_at, Signal.id)
            .limit(LABEL_SIGNALS)
        ).all()
    return merge_labels((p or {}).get("labels") for p in stored if isinstance(p, Mapping))


def incident_event(
    incident: Incident,
    event_type: IncidentEventType,
    *,
    cause: str,
    actor: str = "",
    labels: Mapping[str, str] | None = None,
) -> IncidentEvent:
    """The bus event describing an incident change; its id is derived from the cause."""
    return IncidentEvent(
        id=f"{incident.id}-{event_type.value}-{cause}"[:128],
        type=event_type,
        incident_id=incident.id,
        title=incident.title,
        service=incident.service,
        severity=Severity(incident.severity),
        status=IncidentStatus(incident.status),
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at,
        tenant=incident.tenant,
        services=list(incident.services or [incident.service]),
        assignee=incident.assignee,
        silenced=bool(incident.silenced),
        actor=actor,
        kind=incident.kind or "detected",
        labels=dict(labels or {}),
    )


def emit(
    session: Session,
    incident: Incident,
    event_type: IncidentEventType,
    *,
    cause: str,
    actor: str,
    labels: Mapping[str, str] | None = None,
) -> IncidentEvent:
    """Put the incident change on the outbox (published to `incidents` after commit), with
    the incident's labels (`labels_of` unless given)."""
    if labels is None:
        labels = labels_of(session, incident)
    event = incident_event(incident, event_type, cause=cause, actor=actor, labels=labels)
    enqueue(session, INCIDENTS, event)
    return event


def note(
    session: Session,
    incident_id: str,
    kind: str,
    actor: str,
    detail: dict[str, Any],
    at: datetime | None = None,
) -> TimelineEntry:
    """Add a timeline entry."""
    entry = TimelineEntry(
        incident_id=incident_id, at=at or utcnow(), kind=kind, actor=actor, detail=detail
    )
    session.add(entry)
    return entry


# -- queries ----------------------------------------------------------------------------------


def list_incidents(
    *,
    session: Session,
    status: Sequence[str] | str | None = None,
    service: str | None = None,
    severity: Sequence[str] | None = None,
    assignee: str | None = None,
    sort: str = "-opened_at",
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> Sequence[Incident]:
    """Incidents filtered and sorted, keyset-paginated on (sort column, id)."""
    column, descending = SORTS[sort]
    query = select(Incident)
    statuses = [status] if isinstance(status, str) else list(status or [])
    if statuses:
        query = query.where(Incident.status.in_(statuses))
    if service:
        query = query.where(Incident.service == service)
    if severity:
        query = query.where(Incident.severity.in_(list(severity)))
    if assignee:
        query = query.where(Incident.assignee == assignee)
    if before is not None:
        # A row-value comparison, so that the (column, id) index serves the page directly.
        key, after = tuple_(column, Incident.id), tuple_(*before)
        query = query.where(key < after if descending else key > after)
    order = (column.desc(), Incident.id.desc()) if descending else (column.asc(), Incident.id)
    return session.scalars(query.order_by(*order).limit(limit)).all()


def get_incident(*, session: Session, incident_id: str) -> Incident | None:
    """One incident by id."""
    return session.get(Incident, incident_id)


def require_incident(session: Session, incident_id: str, *, lock: bool = False) -> Incident:
    """One incident by id (locked for update when asked); raises NotFound."""
    incident = session.get(Incident, incident_id, with_for_update=lock or None)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def timeline(*, session: Session, incident_id: str) -> Sequence[TimelineEntry]:
    """An incident's timeline, oldest first."""
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.id)
    )
    return session.scalars(query).all()


# -- people's actions -------------------------------------------------------------------------


def act(
    *, session: Session, incident_id: str, command: Command, actor: Principal, note_text: str = ""
) -> Incident:
    """Acknowledge, mitigate, resolve or reopen; asking for the current state is a no-op."""
    lifecycle.authorize(command, actor.role)
    incident = require_incident(session, incident_id, lock=True)
    target = lifecycle.transition(IncidentStatus(incident.status), command)
    if target is None:
        return incident
    now = utcnow()
    previous = incident.status
    incident.status = target.value
    incident.updated_at = now
    if target is IncidentStatus.ACKNOWLEDGED:
        incident.acknowledged_at = now
    elif target is IncidentStatus.RESOLVED:
        incident.resolved_at = now
        incident.firing = []  # people close the episode; late recoveries are ignored
        incident.recovered_at = None
        incident.flapping = False
    elif command is Command.REOPEN:
        incident.resolved_at = None
        incident.recovered_at = None
    event_type = _EVENT_FOR[command]
    detail = {"from": previous, "to": target.value, **({"note": note_text} if note_text else {})}
    note(session, incident.id, f"incident.{event_type.value}", actor.label, detail, now)
    audit.record(
        session,
        actor=actor,
        action=f"incident.{command.value}",
        target_type="incident",
        target_id=incident.id,
        detail=detail,
    )
    emit(session, incident, event_type, cause=new_id(), actor=actor.label)
    return incident


def assign(
    *, session: Session, incident_id: str, assignee: str | None, actor: Principal
) -> Incident:
    """Set (or clear, with None) the person working the incident."""
    lifecycle.authorize(Command.ASSIGN, actor.role)
    incident = require_incident(session, incident_id, lock=True)
    if incident.assignee == assignee:
        return incident
    detail = {"from": incident.assignee, "to": assignee}
    incident.assignee = assignee
    incident.updated_at = utcnow()
    note(session, incident.id, "incident.assigned", actor.label, detail)
    audit.record(
        session,
        actor=actor,
        action="incident.assign",
        target_type="incident",
        target_id=incident.id,
        detail=detail,
    )
    emit(session, incident, IncidentEventType.ASSIGNED, cause=new_id(), actor=actor.label)
    return incident


def comment(*, session: Session, incident_id: str, text: str, actor: Principal) -> TimelineEntry:
    """Add a comment to the incident's timeline."""
    lifecycle.authorize(Command.COMMENT, actor.role)
    incident = require_incident(session, incident_id, lock=True)
    incident.updated_at = utcnow()
    entry = note(session, incident.id, "comment", actor.label, {"text": text})
    audit.record(
        session,
        actor=actor,
        action="incident.comment",
        target_type="incident",
        target_id=incident.id,
        detail={"text": text},
    )
    emit(session, incident, IncidentEventType.COMMENTED, cause=new_id(), actor=actor.label)
    session.flush()
    return entry


def update(
    *,
    session: Session,
    incident_id: str,
    actor: Principal,
    severity: Severity | None = None,
    title: str | None = None,
) -> Incident:
    """Change an incident's severity or title."""
    lifecycle.authorize(Command.UPDATE, actor.role)
    incident = require_incident(session, incident_id, lock=True)
    changes: dict[str, Any] = {}
    if severity is not None and severity.value != incident.severity:
        changes["severity"] = {"from": incident.severity, "to": severity.value}
        incident.severity = severity.value
    if title is not None and title != incident.title:
        changes["title"] = {"from": incident.title, "to": title}
        incident.title = title
    if not changes:
        return incident
    incident.updated_at = utcnow()
    note(session, incident.id, "incident.updated", actor.label, changes)
    audit.record(
        session,
        actor=actor,
        action="incident.update",
        target_type="incident",
        target_id=incident.id,
        detail=changes,
    )
    emit(session, incident, IncidentEventType.UPDATED, cause=new_id(), actor=actor.label)
    return incident


# -- the quiet-period sweep -------------------------------------------------------------------


def sweep(
    *, session: Session, now: datetime, policy: quiet.QuietPolicy, limit: int = 500
) -> list[IncidentEvent]:
    """Resolve recovered incidents whose quiet period has passed (wall clock `now`)."""
    query = (
        select(Incident)
        .where(Incident.recovered_at.is_not(None))
        .where(Incident.status != IncidentStatus.RESOLVED.value)
        .order_by(Incident.recovered_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    events = []
    for incident in session.scalars(query):
        if not quiet.due(incident.recovered_at, incident.flapping, now, policy):
            continue
        recovered_at = incident.recovered_at
        assert recovered_at is not None
        detail = {
            "reason": "quiet period elapsed",
            "recovered_at": recovered_at.isoformat(),
            "flapping": incident.flapping,
        }
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = recovered_at
        incident.recovered_at = None
        incident.flapping = False
        incident.updated_at = now
        note(session, incident.id, "incident.resolved", SWEEPER.label, detail, now)
        audit.record(
            session,
            actor=SWEEPER,
            action="incident.auto_resolve",
            target_type="incident",
            target_id=incident.id,
            detail=detail,
        )
        cause = f"quiet-{recovered_at.timestamp():.0f}"
        events.append(
            emit(session, incident, IncidentEventType.RESOLVED, cause=cause, actor=SWEEPER.label)
        )
    return events
