"""Vigil's own signed webhook: JSON body, `X-Vigil-Timestamp` and `X-Vigil-Signature`.

The signature is recomputed on every attempt with the current time, so a retry after a long
outage still falls inside the receiver's timestamp window. `X-Vigil-Delivery` (the
notification id, also `id` in the body) lets receivers drop a redelivered message.
See docs/notifications.md for the format and a verification snippet.
"""

from __future__ import annotations

from typing import Any

from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
    NotifyError,
)
from services.remediate.notify.http import Outbound, dumps
from services.remediate.notify.signing import webhook_headers

DELIVERY_HEADER = "X-Vigil-Delivery"
EVENT_HEADER = "X-Vigil-Event"


def render(message: NotificationMessage, ctx: DeliveryContext, timestamp: int) -> dict[str, Any]:
    """The body: envelope fields plus the message itself under `incident`."""
    incident = message.model_dump(mode="json", exclude={"digest", "remediation"})
    body: dict[str, Any] = {
        "schema_version": 1,
        "id": ctx.notification_id,
        "type": f"incident.{message.event_type}",
        "channel": ctx.channel,
        "timestamp": timestamp,
        "incident": incident,
    }
    if message.remediation:
        body["remediation"] = message.remediation.model_dump(mode="json")
    if message.digest:
        body["digest"] = [item.model_dump(mode="json") for item in message.digest]
    return body


class WebhookNotifier(Notifier):
    """POSTs the signed body to `url`; secret: the shared HMAC key."""

    kind = "webhook"

    def __init__(self, channel: ChannelConfig, outbound: Outbound) -> None:
        super().__init__(channel)
        self.outbound = outbound
        if not channel.url or not channel.secret:
            raise NotifyError(f"webhook channel {channel.name!r} needs a url and a secret")

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        timestamp = int(self.outbound.clock().timestamp())
        body = dumps(render(message, ctx, timestamp))
        headers = webhook_headers(self.channel.secret, timestamp, body)
        headers[DELIVERY_HEADER] = ctx.notification_id
        headers[EVENT_HEADER] = f"incident.{message.event_type}"
        outcome = await self.outbound.send("POST", self.channel.url, body=body, headers=headers)
        return DeliveryOutcome.delivered(ctx.notification_id) if outcome.ok else outcome
