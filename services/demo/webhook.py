"""`vigil demo --webhook URL --webhook-secret SECRET`: every notification of the demo also goes
to URL in Vigil's signed webhook format (docs/notifications.md), as channel `demo-webhook`."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from services.remediate.notify.base import ChannelConfig
from services.remediate.notify.pipeline import NotificationWorker

CHANNEL = "demo-webhook"


def webhook_channels(url: str | None, secret: str) -> list[ChannelConfig]:
    """The demo's extra channel, or none; ValueError naming what is wrong with the options."""
    if not url:
        if secret:
            raise ValueError("--webhook-secret needs --webhook URL")
        return []
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("--webhook must be an absolute http:// or https:// URL")
    if not secret:
        raise ValueError("--webhook needs --webhook-secret (the HMAC key receivers verify with)")
    return [ChannelConfig(name=CHANNEL, kind="webhook", url=url, secret=secret)]


def webhook_summary(worker: NotificationWorker | None, out: Callable[[str], None]) -> None:
    """One line: how the deliveries to the demo's webhook went."""
    if worker is None:
        return
    counts = worker.counters[CHANNEL]
    out(
        f"Webhook: {counts.sent} notification(s) delivered, {counts.failed} failed "
        f"(retries: {counts.retried}); each signed with X-Vigil-Signature."
    )
