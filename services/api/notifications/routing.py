"""The api's own routing, for the few notifications it addresses by its channels' rules.

Incident changes and approval requests are routed by remediate's planner (it hears them on
the bus). A remediation approved by its policy is no approval request, so it is announced by
the api directly: the channels whose rules match the incident hear about it, with the rules
read from the api's table and matched as the planner matches them (`notify/routing.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.notifications.models import NotificationChannel
from services.core.events import Severity
from services.remediate.notify.routing import route, rules_from_stored


def routed_channels(
    session: Session,
    *,
    severity: Severity,
    service: str,
    labels: Mapping[str, str],
    event_type: str,
) -> list[str]:
    """The enabled channels whose stored rules match an incident change, each once."""
    rows = session.execute(
        select(NotificationChannel.name, NotificationChannel.rules)
        .where(NotificationChannel.enabled.is_(True))
        .order_by(NotificationChannel.name)
    ).all()
    rules = [rule for name, specs in rows for rule in rules_from_stored(name, specs or [])]
    return route(rules, severity=severity, service=service, labels=labels, event_type=event_type)
