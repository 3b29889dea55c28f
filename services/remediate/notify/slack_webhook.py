"""Slack incoming webhook: one Block Kit message per state change (no threads: the webhook
returns no message reference)."""

from __future__ import annotations

from typing import Any

from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
)
from services.remediate.notify.http import Outbound, dumps
from services.remediate.notify.render import slack_blocks


def render(message: NotificationMessage) -> dict[str, Any]:
    """The JSON body Slack's incoming webhook takes: fallback text plus blocks."""
    return {"text": message.headline, "blocks": slack_blocks(message)}


class SlackWebhookNotifier(Notifier):
    """Posts to the webhook URL (the URL is the secret: it is stored encrypted)."""

    kind = "slack_webhook"

    def __init__(self, channel: ChannelConfig, outbound: Outbound) -> None:
        super().__init__(channel)
        self.outbound = outbound

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        url = self.channel.secret or self.channel.url
        return await self.outbound.send("POST", url, body=dumps(render(message)))
