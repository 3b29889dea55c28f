"""From an incident change to the notifications to write into the outbox (pure).

The api calls `notifications_for` in the transaction that stores the change, and writes the
result to its outbox. Notification ids derive from the incident event id and the channel, so
a replayed change yields the same ids and the delivery ledger drops the duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.core.events import IncidentEvent, Notification, stable_id
from services.remediate.notify.base import DigestItem, RemediationAsk
from services.remediate.notify.flood import Digest, FloodGuard
from services.remediate.notify.routing import SEVERITY_ORDER, RouteRule, route


def payload_for(
    event: IncidentEvent,
    *,
    link: str = "",
    explanation: str = "",
    labels: dict[str, str] | None = None,
    remediation: RemediationAsk | None = None,
) -> dict[str, Any]:
    """`Notification.payload` for an incident change (the contract in docs/notifications.md);
    `labels` default to the event's."""
    payload: dict[str, Any] = {
        "title": event.title,
        "service": event.service,
        "severity": event.severity.value,
        "status": event.status.value,
        "opened_at": event.opened_at.isoformat(),
        "resolved_at": event.resolved_at.isoformat() if event.resolved_at else None,
        "link": link,
        "explanation": explanation,
        "labels": dict(event.labels if labels is None else labels),
        "actor": event.actor,
        "tenant": event.tenant,
    }
    if remediation is not None:
        payload["remediation"] = remediation.model_dump(mode="json")
    return payload


def notifications_for(
    event: IncidentEvent,
    rules: Sequence[RouteRule],
    *,
    now: datetime,
    flood: FloodGuard | None = None,
    link: str = "",
    explanation: str = "",
    labels: dict[str, str] | None = None,
    remediation: RemediationAsk | None = None,
) -> list[Notification]:
    """One Notification per routed channel; none for silenced changes or held openings.

    Label rules match `labels` when given, else the labels the event carries.
    """
    if event.silenced:
        return []
    labels = dict(event.labels) if labels is None else labels
    channels = route(
        rules,
        severity=event.severity,
        service=event.service,
        labels=labels,
        event_type=event.type.value,
    )
    payload = payload_for(
        event, link=link, explanation=explanation, labels=labels, remediation=remediation
    )
    item = DigestItem(
        incident_id=event.incident_id,
        title=event.title,
        service=event.service,
        severity=event.severity,
    )
    return [
        Notification(
            id=stable_id("notification", event.id, channel),
            channel=channel,
            incident_id=event.incident_id,
            event_type=event.type.value,
            payload=payload,
        )
        for channel in channels
        if flood is None or flood.admit(channel, event.type.value, item, now)
    ]


def digest_notification(digest: Digest) -> Notification:
    """The one message standing for a digest's held openings."""
    key = stable_id("digest", digest.channel, digest.since.isoformat())
    worst = max(digest.items, key=lambda i: SEVERITY_ORDER[i.severity])
    return Notification(
        id=stable_id("notification", key),
        channel=digest.channel,
        incident_id=f"digest-{key}",
        event_type="opened",
        payload={
            "title": f"{len(digest.items)} more incidents opened since {digest.since:%H:%M:%S} UTC",
            "service": "multiple",
            "severity": worst.severity.value,
            "status": "open",
            "digest": [i.model_dump(mode="json") for i in digest.items],
        },
    )
