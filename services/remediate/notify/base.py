"""What every integration shares: the message, the outcome, the channel and the Notifier base.

Modelled on Alertmanager's `notify/`: each integration is one small module whose `notify`
returns a `DeliveryOutcome` saying whether it worked, and if not, whether trying again may
help. Retries, idempotency and threading live in the pipeline, not in the integrations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.core.errors import VigilError
from services.core.events import Notification, Severity, UtcDateTime


class NotifyError(VigilError):
    """A channel is misconfigured or a message cannot be rendered for it."""


class RemediationAsk(BaseModel):
    """A remediation waiting for approval, offered as Approve/Reject buttons where possible."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str
    action: str
    target: str
    risk: str = "medium"


class DigestItem(BaseModel):
    """One incident summarised inside a flood digest."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    incident_id: str
    title: str
    service: str
    severity: Severity


class NotificationMessage(BaseModel):
    """The tool-neutral content of a notification: `Notification.payload` as a model.

    The api writes this (see docs/notifications.md); each integration renders it its own way.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    incident_id: str
    event_type: str
    title: str
    service: str = "unknown"
    severity: Severity = Severity.WARNING
    status: str = "open"
    opened_at: UtcDateTime | None = None
    resolved_at: UtcDateTime | None = None
    link: str = ""
    explanation: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    actor: str = ""
    tenant: str = "default"
    remediation: RemediationAsk | None = None
    digest: list[DigestItem] = Field(default_factory=list)

    @classmethod
    def from_notification(cls, notification: Notification) -> NotificationMessage:
        """Parse a Notification's payload; its own fields win over the payload's."""
        data: dict[str, Any] = dict(notification.payload)
        data["incident_id"] = notification.incident_id
        data["event_type"] = notification.event_type
        if "title" not in data:  # e.g. the remediation worker's escalation pages
            subject = " on ".join(str(data[k]) for k in ("action", "target") if data.get(k))
            fallback = f"Incident {notification.incident_id}"
            data["title"] = f"{notification.event_type}: {subject}" if subject else fallback
        if "explanation" not in data and isinstance(data.get("detail"), str):
            data["explanation"] = data["detail"]
        return cls.model_validate(data)

    @property
    def resolved(self) -> bool:
        return self.event_type == "resolved" or self.status == "resolved"

    @property
    def headline(self) -> str:
        """One line for subjects, summaries and notification previews."""
        if self.digest:
            return f"[{len(self.digest)} incidents opened] {self.title}"
        return f"[{self.event_type.upper()}] [{self.severity.value}] {self.service}: {self.title}"


@dataclass(frozen=True)
class DeliveryOutcome:
    """Result of one delivery attempt. `retry_after` (seconds) comes from the receiver."""

    ok: bool
    retryable: bool = False
    error: str = ""
    provider_ref: str = ""
    retry_after: float | None = None

    @classmethod
    def delivered(cls, provider_ref: str = "") -> DeliveryOutcome:
        return cls(ok=True, provider_ref=provider_ref)

    @classmethod
    def permanent(cls, error: str) -> DeliveryOutcome:
        return cls(ok=False, retryable=False, error=error)

    @classmethod
    def transient(cls, error: str, retry_after: float | None = None) -> DeliveryOutcome:
        return cls(ok=False, retryable=True, error=error, retry_after=retry_after)


@dataclass(frozen=True)
class DeliveryContext:
    """What the pipeline knows about this delivery beyond the message itself."""

    notification_id: str
    channel: str
    now: datetime
    # The tool's reference to the incident's first message on this channel, for threading.
    thread_ref: str = ""


ChannelKind = Literal[
    "slack_webhook", "slack_bot", "teams", "pagerduty", "opsgenie", "webhook", "email"
]


@dataclass(frozen=True)
class ChannelConfig:
    """A configured destination. `secret` is plaintext in memory only; see secrets.py."""

    name: str
    kind: ChannelKind
    url: str = ""
    secret: str = field(default="", repr=False)
    options: dict[str, Any] = field(default_factory=dict)


class Notifier(ABC):
    """One integration: turns a message into a request to one tool."""

    kind: str = ""

    def __init__(self, channel: ChannelConfig) -> None:
        self.channel = channel

    @abstractmethod
    async def notify(self, message: NotificationMessage, ctx: DeliveryContext) -> DeliveryOutcome:
        """Deliver once; never raises for delivery problems, returns the outcome instead."""
