"""Opsgenie Alert API: create with the incident's alias, acknowledge, close on resolve.

The alias is the incident's dedup key, so Opsgenie merges repeated creates into one open alert
and follow-up calls address it by alias (`identifierType=alias`) without knowing its id.
Other changes (updates, comments, assignment) are added as notes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from services.core.events import Severity
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
    NotifyError,
)
from services.remediate.notify.http import Outbound, dumps, json_field
from services.remediate.notify.pagerduty import dedup_key
from services.remediate.notify.render import plain_text

DEFAULT_BASE_URL = "https://api.opsgenie.com"
PRIORITY = {
    Severity.CRITICAL: "P1",
    Severity.ERROR: "P2",
    Severity.WARNING: "P3",
    Severity.INFO: "P5",
}
CREATE = frozenset({"opened", "reopened"})
VERBS = {"acknowledged": "acknowledge", "resolved": "close"}


def alias(message: NotificationMessage) -> str:
    """The alert alias: the incident's dedup key (a digest gets its own)."""
    if message.digest:
        return f"vigil-digest-{message.incident_id}"[:512]
    return dedup_key(message.incident_id)[:512]


def request_for(message: NotificationMessage) -> tuple[str, dict[str, Any]]:
    """The path (below the base URL) and JSON body for this change."""
    key = alias(message)
    if message.digest or message.event_type in CREATE:
        body: dict[str, Any] = {
            "message": message.headline[:130],
            "alias": key,
            "description": plain_text(message)[:15000],
            "priority": PRIORITY[message.severity],
            "source": "Vigil",
            "entity": message.service[:512],
            "tags": ["vigil", f"severity:{message.severity.value}"],
            "details": {"incident_id": message.incident_id, "status": message.status}
            | ({"link": message.link} if message.link else {})
            | dict(message.labels),
        }
        return "/v2/alerts", body
    verb = VERBS.get(message.event_type, "notes")
    path = f"/v2/alerts/{quote(key, safe='')}/{verb}?identifierType=alias"
    note = f"{message.event_type}: {message.title}" + (
        f" ({message.actor})" if message.actor else ""
    )
    return path, {"source": "Vigil", "user": message.actor or "Vigil", "note": note[:25000]}


def parse_response(response: httpx.Response) -> str:
    """Opsgenie processes asynchronously; its `requestId` is the only handle it returns."""
    return json_field(response, "requestId")


class OpsgenieNotifier(Notifier):
    """Secret: the API integration key (sent as `GenieKey`). `url`: base URL (EU: api.eu...)."""

    kind = "opsgenie"

    def __init__(self, channel: ChannelConfig, outbound: Outbound) -> None:
        super().__init__(channel)
        self.outbound = outbound
        if not channel.secret:
            raise NotifyError(f"opsgenie channel {channel.name!r} needs an API key")
        self.base = (channel.url or DEFAULT_BASE_URL).rstrip("/")

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        path, body = request_for(message)
        headers = {"Authorization": f"GenieKey {self.channel.secret}"}
        outcome = await self.outbound.send(
            "POST", self.base + path, body=dumps(body), headers=headers, parse=parse_response
        )
        if outcome.ok:
            return DeliveryOutcome.delivered(alias(message))
        return outcome
