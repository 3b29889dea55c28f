"""Wiring of the notification pipeline into a remediate worker process."""

from __future__ import annotations

from services.core.bus import Bus
from services.core.netpolicy import OutboundPolicy
from services.remediate.notify.http import Outbound
from services.remediate.notify.pipeline import NotificationWorker
from services.remediate.notify.registry import ChannelDirectory
from services.remediate.notify.retry import RetryPolicy


def build_notify(
    bus: Bus,
    *,
    group: str,
    channels: ChannelDirectory,
    policy: OutboundPolicy,
    retry: RetryPolicy | None = None,
    timeout_s: float = 10.0,
) -> NotificationWorker:
    """Attach the notification worker to `bus` (call before bus.start(), same group as the
    remediation worker: one KafkaBus serves one consumer group)."""
    worker = NotificationWorker(
        bus, channels, Outbound(policy, timeout_s=timeout_s), retry=retry or RetryPolicy()
    )
    worker.attach(group=group)
    return worker
