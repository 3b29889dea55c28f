"""PagerDuty Events API v2: trigger, acknowledge and resolve one alert per incident.

The `dedup_key` is derived from the incident id, so every state change of an incident lands on
the same PagerDuty alert and a repeated trigger is merged rather than paging twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
    NotifyError,
)
from services.remediate.notify.http import Outbound, dumps, json_field
from services.remediate.notify.render import plain_text

DEFAULT_BASE_URL = "https://events.pagerduty.com"
ACTIONS = {"acknowledged": "acknowledge", "resolved": "resolve"}  # everything else triggers


def dedup_key(incident_id: str) -> str:
    """The PagerDuty dedup key of an incident (also used as Opsgenie's alias)."""
    return f"vigil-{incident_id}"[:255]


def event_action(message: NotificationMessage) -> str:
    """trigger, acknowledge or resolve."""
    return ACTIONS.get(message.event_type, "trigger")


def render(message: NotificationMessage, routing_key: str) -> dict[str, Any]:
    """The enqueue body; acknowledge and resolve carry only the key fields."""
    key = (
        f"vigil-digest-{message.incident_id}" if message.digest else dedup_key(message.incident_id)
    )
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": event_action(message),
        "dedup_key": key[:255],
    }
    if body["event_action"] != "trigger":
        return body
    payload: dict[str, Any] = {
        "summary": message.headline[:1024],
        "source": message.service,
        "severity": message.severity.value,  # Vigil's severities are PagerDuty's four
        "component": message.service,
        "group": message.tenant,
        "class": message.event_type,
        "custom_details": {
            "incident_id": message.incident_id,
            "status": message.status,
            "details": plain_text(message),
            **({"labels": message.labels} if message.labels else {}),
        },
    }
    if message.opened_at is not None:
        payload["timestamp"] = message.opened_at.isoformat()
    body.update(payload=payload, client="Vigil")
    if message.link:
        body["client_url"] = message.link
        body["links"] = [{"href": message.link, "text": "Open in Vigil"}]
    return body


def parse_response(response: httpx.Response) -> str:
    """PagerDuty echoes the dedup key it filed the event under."""
    return json_field(response, "dedup_key")


class PagerDutyNotifier(Notifier):
    """Secret: the integration's routing key. `url` overrides the Events API base URL."""

    kind = "pagerduty"

    def __init__(self, channel: ChannelConfig, outbound: Outbound) -> None:
        super().__init__(channel)
        self.outbound = outbound
        if not channel.secret:
            raise NotifyError(f"pagerduty channel {channel.name!r} needs a routing key")
        self.url = (channel.url or DEFAULT_BASE_URL).rstrip("/") + "/v2/enqueue"

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        body = dumps(render(message, self.channel.secret))
        return await self.outbound.send("POST", self.url, body=body, parse=parse_response)
