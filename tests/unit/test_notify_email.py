"""E-mail over SMTP against a local server: headers, threading, and failure classes."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime
from email.message import Message

from services.core.events import Severity
from services.core.netpolicy import OutboundPolicy
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
)
from services.remediate.notify.email_smtp import EmailNotifier
from services.remediate.notify.http import Outbound
from tests.unit.test_notify_support import LOOPBACK_POLICY, SmtpReceiver, free_port

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def _send(
    port: int,
    event_type: str,
    notification_id: str,
    thread_ref: str = "",
    policy: OutboundPolicy = LOOPBACK_POLICY,
) -> DeliveryOutcome:
    channel = ChannelConfig(
        "mail",
        "email",
        options={
            "host": "127.0.0.1",
            "port": port,
            "from": "vigil@example.com",
            "to": ["ops@example.com"],
        },
    )
    message = NotificationMessage(
        incident_id="inc-9",
        event_type=event_type,
        title="disk full",
        service="db",
        severity=Severity.ERROR,
        link="https://vigil.example/incidents/inc-9",
    )
    ctx = DeliveryContext(notification_id, "mail", NOW, thread_ref)

    async def go() -> DeliveryOutcome:
        outbound = Outbound(policy)
        try:
            return await EmailNotifier(channel, outbound).notify(message, ctx)
        finally:
            await outbound.aclose()

    return asyncio.run(go())


def _parse(data: bytes) -> Message:
    return email.message_from_bytes(data)


def test_email_is_sent_and_follow_ups_thread_on_the_first_message() -> None:
    with SmtpReceiver() as smtp:
        first = _send(smtp.port, "opened", "n-1")
        second = _send(smtp.port, "resolved", "n-2", thread_ref=first.provider_ref)
    assert first == DeliveryOutcome.delivered("<n-1@vigil.local>")
    assert second.ok
    opened, resolved = (_parse(m.data) for m in smtp.mails)
    assert smtp.mails[0].sender == "vigil@example.com"
    assert smtp.mails[0].recipients == ["ops@example.com"]
    assert opened["Subject"] == "[OPENED] [error] db: disk full"
    assert opened["Message-ID"] == "<n-1@vigil.local>"
    assert opened["In-Reply-To"] is None
    assert opened["X-Vigil-Incident"] == "inc-9"
    assert "https://vigil.example/incidents/inc-9" in opened.get_payload()
    assert resolved["In-Reply-To"] == "<n-1@vigil.local>"
    assert resolved["References"] == "<n-1@vigil.local>"


def test_smtp_5xx_is_permanent_4xx_and_refused_connections_are_retryable() -> None:
    with SmtpReceiver(reject_rcpt=550) as smtp:
        rejected = _send(smtp.port, "opened", "n-1")
    with SmtpReceiver(reject_rcpt=451) as smtp:
        deferred = _send(smtp.port, "opened", "n-1")
    refused = _send(free_port(), "opened", "n-1")
    assert (rejected.ok, rejected.retryable) == (False, False)
    assert (deferred.ok, deferred.retryable) == (False, True)
    assert (refused.ok, refused.retryable) == (False, True)


def test_smtp_host_is_checked_against_the_outbound_policy() -> None:
    with SmtpReceiver() as smtp:
        blocked = _send(smtp.port, "opened", "n-1", policy=OutboundPolicy())
    assert not blocked.retryable and "blocked" in blocked.error
    assert smtp.mails == []
