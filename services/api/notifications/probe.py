"""The "send test message" action: one attempt through the channel's own notifier."""

from __future__ import annotations

from services.api.notifications.schemas import ProbeResult
from services.core.events import new_id, utcnow
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    NotificationMessage,
    NotifyError,
)
from services.remediate.notify.http import Outbound
from services.remediate.notify.registry import build_notifier


def sample_message(channel: str, link: str = "") -> NotificationMessage:
    """A recognisable message that is not about a real incident."""
    return NotificationMessage(
        incident_id=f"test-{new_id()[:12]}",
        event_type="opened",
        title=f"Test message from Vigil to channel {channel}",
        service="vigil",
        severity="info",
        status="open",
        opened_at=utcnow(),
        link=link,
        explanation="Sent from POST /api/v1/channels/{id}/test; no incident is open.",
    )


async def send_test(config: ChannelConfig, outbound: Outbound, link: str = "") -> ProbeResult:
    """Send one test message now and say how it went (no retries, nothing recorded)."""
    try:
        notifier = build_notifier(config, outbound)
    except NotifyError as exc:
        return ProbeResult(channel=config.name, delivered=False, retryable=False, error=str(exc))
    message = sample_message(config.name, link)
    ctx = DeliveryContext(
        notification_id=f"test-{new_id()}", channel=config.name, now=utcnow(), thread_ref=""
    )
    outcome = await notifier.notify(message, ctx)
    return ProbeResult(
        channel=config.name,
        delivered=outcome.ok,
        retryable=outcome.retryable,
        error=outcome.error,
        provider_ref=outcome.provider_ref,
    )
