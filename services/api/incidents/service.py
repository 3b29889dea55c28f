"""Incident service layer: applies correlation decisions to the database, idempotently.

Every function takes a session inside the caller's transaction; the outgoing events are put in
the outbox in that same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.incidents import correlation
from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.outbox import enqueue
from services.core.events import (
    Anomaly,
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    Severity,
    new_id,
    utcnow,
)
from services.core.topics import INCIDENTS

_SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}


def record_anomaly(
    *, session: Session, anomaly: Anomaly, policy: correlation.CorrelationPolicy
) -> list[IncidentEvent]:
    """Store an anomaly and update incidents; a redelivered anomaly changes nothing."""
    if session.get(Signal, anomaly.id) is not None:
        return []
    now = utcnow()
    open_incident = _open_incident(session, anomaly.tenant, anomaly.service)
    last_resolved = (
        None if open_incident else _last_resolved(session, anomaly.tenant, anomaly.service)
    )
    decision = correlation.correlate(
        correlation.Signal(anomaly.status, anomaly.service, anomaly.series, anomaly.timestamp),
        _view(open_incident),
        _view(last_resolved),
        policy,
    )
    incident: Incident | None = None
    event_type: IncidentEventType | None = None
    match decision.action:
        case correlation.Action.OPEN:
            incident = _new_incident(anomaly, now)
            session.add(incident)
            session.flush()
            event_type = IncidentEventType.OPENED
        case correlation.Action.REOPEN:
            incident = last_resolved
            assert incident is not None
            incident.status = IncidentStatus.OPEN.value
            incident.resolved_at = None
            event_type = IncidentEventType.REOPENED
        case correlation.Action.ATTACH:
            incident = open_incident
            assert incident is not None
            if _SEVERITY_RANK[anomaly.severity.value] > _SEVERITY_RANK[incident.severity]:
                incident.severity = anomaly.severity.value
                event_type = IncidentEventType.UPDATED
        case correlation.Action.CLEAR | correlation.Action.RESOLVE:
            incident = open_incident
        case correlation.Action.IGNORE:
            pass

    session.add(_signal_row(anomaly, incident.id if incident else None, now))
    if incident is None:
        return []
    _apply_signal(incident, anomaly, now)
    if decision.action is correlation.Action.RESOLVE:
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = anomaly.timestamp
        event_type = IncidentEventType.RESOLVED
    session.add(
        TimelineEntry(
            incident_id=incident.id,
            at=now,
            kind=f"anomaly.{anomaly.status}",
            actor="detect",
            detail={
                "signal_id": anomaly.id,
                "series": anomaly.series,
                "score": anomaly.score,
                "explanation": anomaly.explanation.model_dump() if anomaly.explanation else None,
            },
        )
    )
    if event_type is None:
        return []
    if event_type is not IncidentEventType.UPDATED:
        session.add(
            TimelineEntry(
                incident_id=incident.id,
                at=now,
                kind=f"incident.{event_type.value}",
                actor="correlator",
                detail={"signal_id": anomaly.id},
            )
        )
    event = incident_event(incident, event_type, cause=anomaly.id)
    enqueue(session, INCIDENTS, event)
    return [event]


def incident_event(
    incident: Incident, event_type: IncidentEventType, *, cause: str
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
    )


def list_incidents(
    *,
    session: Session,
    status: str | None = None,
    service: str | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> Sequence[Incident]:
    """Incidents newest first, filtered, keyset-paginated on (opened_at, id)."""
    query = select(Incident)
    if status:
        query = query.where(Incident.status == status)
    if service:
        query = query.where(Incident.service == service)
    if before is not None:
        opened_at, incident_id = before
        query = query.where(
            (Incident.opened_at < opened_at)
            | ((Incident.opened_at == opened_at) & (Incident.id < incident_id))
        )
    query = query.order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(limit)
    return session.scalars(query).all()


def get_incident(*, session: Session, incident_id: str) -> Incident | None:
    """One incident by id."""
    return session.get(Incident, incident_id)


def timeline(*, session: Session, incident_id: str) -> Sequence[TimelineEntry]:
    """An incident's timeline, oldest first."""
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.id)
    )
    return session.scalars(query).all()


# -- helpers ----------------------------------------------------------------------------------


def _open_incident(session: Session, tenant: str, service: str) -> Incident | None:
    query = (
        select(Incident)
        .where(Incident.tenant == tenant, Incident.service == service)
        .where(Incident.status != IncidentStatus.RESOLVED.value)
        .order_by(Incident.opened_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _last_resolved(session: Session, tenant: str, service: str) -> Incident | None:
    query = (
        select(Incident)
        .where(Incident.tenant == tenant, Incident.service == service)
        .where(Incident.status == IncidentStatus.RESOLVED.value)
        .order_by(Incident.resolved_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _view(incident: Incident | None) -> correlation.IncidentView | None:
    if incident is None:
        return None
    return correlation.IncidentView(
        incident.id, frozenset(incident.firing or ()), incident.resolved_at
    )


def _new_incident(anomaly: Anomaly, now: datetime) -> Incident:
    return Incident(
        id=new_id(),
        tenant=anomaly.tenant,
        service=anomaly.service,
        title=f"{anomaly.metric} anomalous on {anomaly.service}",
        severity=anomaly.severity.value,
        status=IncidentStatus.OPEN.value,
        opened_at=anomaly.timestamp,
        updated_at=now,
        last_signal_at=anomaly.timestamp,
        signal_count=0,
        firing=[],
    )


def _apply_signal(incident: Incident, anomaly: Anomaly, now: datetime) -> None:
    firing = set(incident.firing or ())
    if anomaly.status == "firing":
        firing.add(anomaly.series)
    else:
        firing.discard(anomaly.series)
    incident.firing = sorted(firing)  # a new list, so SQLAlchemy sees the JSON change
    incident.signal_count = (incident.signal_count or 0) + 1
    incident.last_signal_at = max(incident.last_signal_at, anomaly.timestamp)
    incident.updated_at = now


def _signal_row(anomaly: Anomaly, incident_id: str | None, now: datetime) -> Signal:
    payload: dict[str, Any] = anomaly.model_dump(mode="json")
    return Signal(
        id=anomaly.id,
        incident_id=incident_id,
        kind=anomaly.kind,
        status=anomaly.status,
        service=anomaly.service,
        series=anomaly.series,
        score=anomaly.score,
        observed_at=anomaly.timestamp,
        received_at=now,
        payload=payload,
    )
