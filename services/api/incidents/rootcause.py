"""Root-cause ranking of incidents that span several services (service layer).

The ranking itself is the pure `services.detect.rca.rank`; this module feeds it the incident's
symptoms (each service's first firing signal in the incident) and the dependency graph
(configured plus learned from traces), stores the result on the incident in the caller's
transaction, and says when the most likely cause changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.incidents.models import Incident, Signal
from services.detect.rca import Symptom, rank


def calls_of(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(caller, callee) pairs as `{caller: [callees]}`, the shape `rank` takes."""
    calls: dict[str, list[str]] = {}
    for caller, callee in sorted(set(edges)):
        calls.setdefault(caller, []).append(callee)
    return calls


def first_firing(session: Session, incident_id: str) -> list[Symptom]:
    """Each service's first firing signal in the incident, as a symptom."""
    query = (
        select(Signal.service, func.min(Signal.observed_at))
        .where(Signal.incident_id == incident_id, Signal.status == "firing")
        .group_by(Signal.service)
        .order_by(Signal.service)
    )
    return [Symptom(service, at.timestamp()) for service, at in session.execute(query)]


def rerank(
    session: Session, incident: Incident, calls: dict[str, list[str]]
) -> dict[str, Any] | None:
    """Rank the incident's root causes and store them on it; returns the detail of an
    `rca.ranked` timeline entry when the top cause changed, else None."""
    symptoms = first_firing(session, incident.id)
    if len({s.service for s in symptoms}) < 2:
        return None
    causes = [cause.as_dict() for cause in rank(calls, symptoms)]
    previous = (incident.root_causes or [None])[0]
    incident.root_causes = causes  # a new list, so SQLAlchemy sees the JSON change
    was = previous["service"] if previous else None
    if causes[0]["service"] == was:
        return None
    return {
        "top": causes[0]["service"],
        "score": causes[0]["score"],
        "reason": causes[0]["reason"],
        "previous": was,
        "ranking": [c["service"] for c in causes],
    }
