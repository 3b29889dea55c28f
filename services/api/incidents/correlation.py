"""Which incident a signal belongs to. Pure domain logic: no database, no bus.

Foundation rules (grouping by service):
- a firing signal joins the service's open incident, or reopens the service's incident resolved
  within the reopen window, or opens a new incident;
- a resolved signal clears its series from the incident; when no series is firing any more the
  incident resolves (the signal recovered);
- a resolved signal for a series no open incident knows is recorded and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Action(StrEnum):
    OPEN = "open"
    ATTACH = "attach"
    REOPEN = "reopen"
    CLEAR = "clear"  # a series recovered; the incident stays open while others fire
    RESOLVE = "resolve"  # the last firing series recovered
    IGNORE = "ignore"


@dataclass(frozen=True)
class IncidentView:
    """What correlation needs to know about an existing incident."""

    id: str
    firing: frozenset[str]
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Signal:
    """A firing or resolved signal for a series of a service."""

    status: str
    service: str
    series: str
    at: datetime


@dataclass(frozen=True)
class CorrelationPolicy:
    reopen_window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Decision:
    action: Action
    incident_id: str | None = None


def correlate(
    signal: Signal,
    open_incident: IncidentView | None,
    last_resolved: IncidentView | None,
    policy: CorrelationPolicy,
) -> Decision:
    """Decide what a signal does to the service's incidents."""
    if signal.status == "firing":
        if open_incident is not None:
            return Decision(Action.ATTACH, open_incident.id)
        if (
            last_resolved is not None
            and last_resolved.resolved_at is not None
            and signal.at - last_resolved.resolved_at <= policy.reopen_window
        ):
            return Decision(Action.REOPEN, last_resolved.id)
        return Decision(Action.OPEN)
    if open_incident is None or signal.series not in open_incident.firing:
        return Decision(Action.IGNORE)
    if open_incident.firing == {signal.series}:
        return Decision(Action.RESOLVE, open_incident.id)
    return Decision(Action.CLEAR, open_incident.id)
