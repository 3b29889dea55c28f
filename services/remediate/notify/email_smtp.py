"""E-mail over SMTP (stdlib smtplib in a worker thread), threaded by Message-ID.

Each message gets a Message-ID derived from the notification id; later changes of the incident
carry `In-Reply-To`/`References` pointing at the first one, so mail clients thread them.
Options: `host`, `port` (25), `from`, `to` (list), `starttls` or `tls` (implicit TLS,
port 465), `username`; secret: the SMTP password. SMTP 4xx replies and connection failures
are retried, 5xx are permanent.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import replace
from email.message import EmailMessage
from email.utils import format_datetime

from services.core.netpolicy import BlockedURL, check_url
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
    NotifyError,
)
from services.remediate.notify.http import Outbound
from services.remediate.notify.render import plain_text


def message_id(notification_id: str, domain: str = "vigil.local") -> str:
    """The Message-ID header of a notification's e-mail."""
    return f"<{notification_id}@{domain}>"


def render(
    message: NotificationMessage, ctx: DeliveryContext, *, sender: str, to: list[str]
) -> EmailMessage:
    """The e-mail: subject, threading headers and a plain-text body."""
    mail = EmailMessage()
    mail["Subject"] = message.headline
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = format_datetime(ctx.now)
    mail["Message-ID"] = message_id(ctx.notification_id)
    if ctx.thread_ref:
        mail["In-Reply-To"] = ctx.thread_ref
        mail["References"] = ctx.thread_ref
    mail["X-Vigil-Incident"] = message.incident_id
    mail.set_content(plain_text(message))
    return mail


class EmailNotifier(Notifier):
    """Sends through the configured SMTP relay."""

    kind = "email"

    def __init__(self, channel: ChannelConfig, outbound: Outbound, timeout_s: float = 10.0) -> None:
        super().__init__(channel)
        self.outbound = outbound
        options = channel.options
        self.host = str(options.get("host", ""))
        self.port = int(options.get("port", 25))
        self.sender = str(options.get("from", ""))
        self.to = [str(a) for a in options.get("to", [])]
        self.starttls = bool(options.get("starttls", False))
        self.implicit_tls = bool(options.get("tls", False))  # SMTPS, usually port 465
        self.username = str(options.get("username", ""))
        self.timeout_s = timeout_s
        if not (self.host and self.sender and self.to):
            raise NotifyError(f"email channel {channel.name!r} needs host, from and to")

    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        policy = replace(self.outbound.policy, schemes=frozenset({"smtp"}))
        try:
            url = f"smtp://{self.host}:{self.port}"
            await asyncio.to_thread(check_url, url, policy, self.outbound.resolver)
        except BlockedURL as exc:
            return DeliveryOutcome.permanent(f"blocked by outbound policy: {exc}")
        mail = render(message, ctx, sender=self.sender, to=self.to)
        return await asyncio.to_thread(self._send, mail)

    def _send(self, mail: EmailMessage) -> DeliveryOutcome:
        try:
            tls = ssl.create_default_context()  # verify the relay's certificate
            smtp: smtplib.SMTP
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=tls)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.starttls and not self.implicit_tls:
                    smtp.starttls(context=tls)
                if self.username:
                    smtp.login(self.username, self.channel.secret)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            error = f"recipients refused: {sorted(exc.recipients)}"
            if all(400 <= code < 500 for code in codes):
                return DeliveryOutcome.transient(error)
            return DeliveryOutcome.permanent(error)
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 400 <= exc.smtp_code < 500:
                return DeliveryOutcome.transient(error)
            return DeliveryOutcome.permanent(error)
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryOutcome.transient(f"{type(exc).__name__}: {exc}")
        return DeliveryOutcome.delivered(str(mail["Message-ID"]))
