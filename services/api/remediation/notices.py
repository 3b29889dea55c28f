"""Chat and paging tools told about an action its policy approved (nothing to decide).

An action waiting for people goes out as a `remediation.requests` message, which remediate's
planner offers with Approve/Reject buttons. An auto-approved one is no request: buttons would
only answer 409. Operators still want to know that automation is acting on their system, so
the incident's channels get one informational message without buttons, written to the outbox
in the proposing transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from services.api.incidents.models import Incident
from services.api.incidents.service import incident_event
from services.api.notifications.routing import routed_channels
from services.api.outbox import enqueue
from services.api.remediation.models import RemediationAction
from services.core.events import IncidentEventType, Notification, Severity, stable_id
from services.core.topics import NOTIFICATIONS
from services.remediate.approvals import POLICY_ACTOR_PREFIX
from services.remediate.notify.planning import payload_for


def announce_auto_approval(
    session: Session,
    *,
    incident: Incident,
    row: RemediationAction,
    labels: Mapping[str, str],
    sent: bool,
    link_base: str = "",
) -> list[Notification]:
    """Tell the incident's channels (by their rules) that its policy approved `row`."""
    if incident.silenced:  # silenced incidents are recorded, not notified
        return []
    channels = routed_channels(
        session,
        severity=Severity(incident.severity),
        service=incident.service,
        labels=labels,
        event_type=IncidentEventType.UPDATED.value,
    )
    if not channels:
        return []
    what = f"{row.action} on {row.target}"
    fate = (
        "sent to the remediation workers"
        if sent
        else "held while the remediation kill switch is engaged"
    )
    actor = POLICY_ACTOR_PREFIX + row.policy
    event = incident_event(
        incident, IncidentEventType.UPDATED, cause=row.id, actor=actor, labels=labels
    )
    link = f"{link_base.rstrip('/')}/incidents/{incident.id}" if link_base else ""
    payload = payload_for(
        event,
        link=link,
        explanation=f"Policy {row.policy} approved {what} (risk {row.risk}) without asking: "
        f"{fate}. Action {row.id}.",
        labels=dict(labels),
    )
    payload["title"] = f"{incident.title} — auto-approved: {what}"
    notices = [
        Notification(
            id=stable_id("notification", row.id, channel),
            channel=channel,
            incident_id=incident.id,
            event_type=IncidentEventType.UPDATED.value,
            payload=payload,
        )
        for channel in channels
    ]
    for notice in notices:
        enqueue(session, NOTIFICATIONS, notice)
    return notices
