"""Incident changes and approval requests in, notifications out: the planning consumer.

Runs in the remediate process next to the delivery pipeline, with its own subscriptions:
- `incidents`: each change is routed by the channels' rules (`planning.notifications_for`,
  nothing for silenced changes, flood protection per channel) and the resulting
  `Notification`s are published to `notifications`, where the delivery worker picks them up;
- `remediation.requests`: an action awaiting approval becomes a message with Approve/Reject
  buttons (Slack) or the `remediation` block (webhook), routed like its incident.

Notification ids derive from the incident event id and the channel, so a redelivered change
publishes the same ids again and the delivery ledger drops them: at least once in, exactly
once out (up to the crash window documented in pipeline.py).

Flood digests are flushed on every handled event and by `run_flusher()` (a periodic task the
composition root starts), so a digest goes out even when no further event arrives. The flood
windows are per process: with several replicas, each counts the incidents of its partitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, cast

from services.core.bus import Bus
from services.core.events import (
    Event,
    IncidentEvent,
    Notification,
    RemediationRequest,
    Severity,
    stable_id,
)
from services.core.topics import INCIDENTS, NOTIFICATIONS, REMEDIATION_REQUESTS
from services.remediate.notify.base import RemediationAsk
from services.remediate.notify.flood import FloodGuard
from services.remediate.notify.planning import digest_notification, notifications_for
from services.remediate.notify.routing import RouteRule, route

log = logging.getLogger(__name__)

KNOWN_INCIDENTS = 10_000  # incident summaries kept to route approval requests


class RuleSource(Protocol):
    """Where the current routing rules come from (the channel directory)."""

    def rules(self) -> list[RouteRule]:
        """The routing rules of every enabled channel."""
        ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class NotificationPlanner:
    """Bus handler for `incidents` and `remediation.requests`; construct before bus.start()."""

    def __init__(
        self,
        bus: Bus,
        rules: RuleSource,
        *,
        flood: FloodGuard | None = None,
        link_base: str = "",
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.bus = bus
        self.rules = rules
        self.flood = flood
        self.link_base = link_base.rstrip("/")
        self.clock = clock
        self.planned = 0
        self.silenced = 0
        self.digests = 0
        self._incidents: OrderedDict[str, IncidentEvent] = OrderedDict()

    def attach(self, *, group: str) -> None:
        """Subscribe to incident changes and approval requests."""
        self.bus.subscribe(INCIDENTS, self.handle_incident, group=group)
        self.bus.subscribe(REMEDIATION_REQUESTS, self.handle_request, group=group)

    def link(self, incident_id: str) -> str:
        """The console link of an incident, when the public base URL is configured."""
        return f"{self.link_base}/incidents/{incident_id}" if self.link_base else ""

    async def handle_incident(self, event: Event) -> None:
        """Route one incident change to its channels and publish the notifications."""
        change = cast(IncidentEvent, event)
        self._remember(change)
        if change.silenced:
            self.silenced += 1
        now = self.clock()
        planned = notifications_for(
            change,
            self.rules.rules(),
            now=now,
            flood=self.flood,
            link=self.link(change.incident_id),
        )
        await self._publish(planned + self._due_digests(now))

    async def handle_request(self, event: Event) -> None:
        """Offer an action awaiting approval on the channels its incident is routed to."""
        request = cast(RemediationRequest, event)
        known = self._incidents.get(request.incident_id)
        severity = known.severity if known else Severity.WARNING
        service = known.service if known else "unknown"
        labels = dict(known.labels) if known else {}
        channels = route(
            self.rules.rules(),
            severity=severity,
            service=service,
            labels=labels,
            event_type="updated",
        )
        title = f"Approval needed: {request.action} on {request.target}"
        payload = {
            "title": f"{known.title} — {title}" if known else title,
            "service": service,
            "severity": severity.value,
            "status": known.status.value if known else "open",
            "link": self.link(request.incident_id),
            "explanation": f"proposed by {request.policy or 'a policy'} (risk {request.risk})",
            "labels": labels,
            "remediation": RemediationAsk(
                request_id=request.id,
                action=request.action,
                target=request.target,
                risk=request.risk,
            ).model_dump(mode="json"),
        }
        await self._publish(
            [
                Notification(
                    id=stable_id("notification", request.id, channel),
                    channel=channel,
                    incident_id=request.incident_id,
                    event_type="updated",
                    payload=payload,
                )
                for channel in channels
            ]
        )

    async def flush_digests(self) -> int:
        """Publish the digests whose window has passed; returns how many."""
        due = self._due_digests(self.clock())
        await self._publish(due)
        return len(due)

    async def run_flusher(self, interval_s: float = 5.0) -> None:
        """Flush due digests forever (a background task of the remediate process)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.flush_digests()
            except Exception:  # noqa: BLE001 - e.g. the bus is briefly down; try next tick
                log.exception("flood digest flush failed; will retry")

    def _due_digests(self, now: datetime) -> list[Notification]:
        if self.flood is None:
            return []
        due = [digest_notification(d) for d in self.flood.flush(now)]
        self.digests += len(due)
        return due

    def _remember(self, change: IncidentEvent) -> None:
        self._incidents[change.incident_id] = change
        self._incidents.move_to_end(change.incident_id)
        while len(self._incidents) > KNOWN_INCIDENTS:
            self._incidents.popitem(last=False)

    async def _publish(self, notifications: list[Notification]) -> None:
        if notifications:
            await self.bus.publish(NOTIFICATIONS, notifications)
            self.planned += len(notifications)
