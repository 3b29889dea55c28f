"""Microsoft Teams through a Workflows webhook ("post to a channel when a webhook request is
received"): an Adaptive Card inside the `attachments` envelope that trigger accepts.

Workflows answers 202 and returns no message reference, so updates are new cards.
"""

from __future__ import annotations

from typing import Any

from services.core.events import Severity
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
)
from services.remediate.notify.http import Outbound, dumps
from services.remediate.notify.render import facts

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Adaptive Card text colours for the headline.
SEVERITY_STYLE = {
    Severity.INFO: "Accent",
    Severity.WARNING: "Warning",
    Severity.ERROR: "Attention",
    Severity.CRITICAL: "Attention",
}


def card(message: NotificationMessage) -> dict[str, Any]:
    """The Adaptive Card (version 1.4, which Teams renders)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.headline,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": "Good" if message.resolved else SEVERITY_STYLE[message.severity],
        },
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": value} for name, value in facts(message)],
        },
    ]
    if message.explanation:
        body.append({"type": "TextBlock", "text": message.explanation, "wrap": True})
    for item in message.digest[:40]:
        text = f"[{item.severity.value}] {item.service}: {item.title}"
        body.append({"type": "TextBlock", "text": text, "wrap": True, "spacing": "None"})
    if message.remediation:
        ask = message.remediation
        text = f"Proposed remediation: {ask.action} on {ask.target} (risk {ask.risk})"
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in Vigil", "url": message.link}
        ]
    return content


def render(message: NotificationMessage) -> dict[str, Any]:
    """The webhook body: a `message` with the card as its single attachment."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card(message)}
        ],
    }


class TeamsNotifier(Notifier):
    """Posts to the Workflows trigger URL (which embeds a signature: stored as the secret)."""

    kind = "teams"

    def __init__(self, channel: ChannelConfig, outbound: Outbound) -> None:
        super().__init__(channel)
        self.outbound = outbound

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        url = self.channel.secret or self.channel.url
        return await self.outbound.send("POST", url, body=dumps(render(message)))
