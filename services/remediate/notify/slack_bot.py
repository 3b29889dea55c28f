"""Slack bot token: `chat.postMessage`, Block Kit, updates threaded under the first message.

The first message of an incident on a channel returns its `ts`; the pipeline keeps it and
passes it back as `ctx.thread_ref`, so later state changes are posted with `thread_ts`. The
resolution is also broadcast to the channel. Slack answers HTTP 200 with `"ok": false` on
errors; the transient ones are retried like a 5xx.
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
from services.remediate.notify.http import Outbound, dumps
from services.remediate.notify.render import slack_blocks

DEFAULT_BASE_URL = "https://slack.com"
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def render(message: NotificationMessage, channel_id: str, thread_ts: str = "") -> dict[str, Any]:
    """The chat.postMessage body; a reply in thread when `thread_ts` is given."""
    body: dict[str, Any] = {
        "channel": channel_id,
        "text": message.headline,
        "blocks": slack_blocks(message),
        "unfurl_links": False,
    }
    if thread_ts:
        body["thread_ts"] = thread_ts
        if message.resolved:
            body["reply_broadcast"] = True
    return body


def parse_response(response: httpx.Response) -> str | DeliveryOutcome:
    """The posted message's `ts`, or the failure Slack reported inside a 200."""
    try:
        data: Any = response.json()
    except ValueError:
        return DeliveryOutcome.transient("Slack answered with a body that is not JSON")
    if not isinstance(data, dict):
        return DeliveryOutcome.transient("Slack answered with an unexpected body")
    if data.get("ok") is True:
        return str(data.get("ts", ""))
    error = str(data.get("error", "unknown_error"))
    if error in TRANSIENT_ERRORS:
        return DeliveryOutcome.transient(f"Slack error: {error}")
    return DeliveryOutcome.permanent(f"Slack error: {error}")


class SlackBotNotifier(Notifier):
    """Options: `channel` (Slack channel id); secret: the bot token (xoxb-...)."""

    kind = "slack_bot"

    def __init__(self, channel: ChannelConfig, outbound: Outbound) -> None:
        super().__init__(channel)
        self.outbound = outbound
        self.channel_id = str(channel.options.get("channel", ""))
        if not self.channel_id or not channel.secret:
            raise NotifyError(f"slack_bot channel {channel.name!r} needs a channel and a token")
        self.url = (channel.url or DEFAULT_BASE_URL).rstrip("/") + "/api/chat.postMessage"

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        body = dumps(render(message, self.channel_id, ctx.thread_ref))
        headers = {
            "Authorization": f"Bearer {self.channel.secret}",
            "Content-Type": "application/json; charset=utf-8",
        }
        return await self.outbound.send(
            "POST", self.url, body=body, headers=headers, parse=parse_response
        )
