"""API schemas for notification channels, their routing rules and delivery status.

Secrets are write-only: `secret` may be sent on create and update, and reads show only
whether one is set (`"********"` or `""`). URLs are shown as scheme and host, because webhook
URLs often carry a token in their path or query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.core.events import IncidentEventType, Severity

Kind = Literal["slack_webhook", "slack_bot", "teams", "pagerduty", "opsgenie", "webhook", "email"]
ChannelName = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# What each kind needs beyond its name: the secret, a url, option keys.
NEEDS: dict[str, tuple[bool, bool, tuple[str, ...]]] = {
    "slack_webhook": (True, False, ()),
    "slack_bot": (True, False, ("channel",)),
    "teams": (True, False, ()),
    "pagerduty": (True, False, ()),
    "opsgenie": (True, False, ()),
    "webhook": (True, True, ()),
    "email": (False, False, ("host", "from", "to")),
}
# Kinds whose secret is itself the URL to post to.
SECRET_IS_URL = {"slack_webhook", "teams"}

_EXAMPLE: dict[str, Any] = {
    "name": "ops-webhook",
    "kind": "webhook",
    "url": "https://hooks.example.com/vigil",
    "secret": "a-long-random-shared-secret",
    "rules": [{"min_severity": "error", "services": ["checkout", "payments-*"]}],
}


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host, or ValueError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


class RuleSpec(BaseModel):
    """Route an incident change to this channel when every given condition matches."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"min_severity": "error", "labels": {"team": "shop"}}]},
    )

    min_severity: Severity | None = None
    services: list[str] = Field(
        default_factory=list, max_length=32, description="Glob patterns, e.g. `payments-*`."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, max_length=32, description="Label -> glob pattern."
    )
    event_types: list[IncidentEventType] = Field(
        default_factory=list, max_length=8, description="Empty: every change."
    )

    @field_validator("services")
    @classmethod
    def _short_patterns(cls, value: list[str]) -> list[str]:
        if any(not 0 < len(p) <= 256 for p in value):
            raise ValueError("service patterns must be 1-256 characters")
        return value

    @field_validator("labels")
    @classmethod
    def _short_labels(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not 0 < len(k) <= 128 or len(v) > 256 for k, v in value.items()):
            raise ValueError("label names must be 1-128 characters and patterns at most 256")
        return value


def check_complete(kind: str, url: str, secret_set: bool, options: dict[str, Any]) -> None:
    """ValueError naming what a channel of this kind lacks."""
    needs_secret, needs_url, needs_options = NEEDS[kind]
    if needs_secret and not secret_set:
        what = "the webhook URL" if kind in SECRET_IS_URL else "a secret"
        raise ValueError(f"a {kind} channel needs `secret` ({what})")
    if needs_url and not url:
        raise ValueError(f"a {kind} channel needs `url`")
    missing = [k for k in needs_options if not options.get(k)]
    if missing:
        raise ValueError(f"a {kind} channel needs options {', '.join(missing)}")
    if kind == "email" and not isinstance(options.get("to"), list):
        raise ValueError("email option `to` must be a list of addresses")


class _Settings(BaseModel):
    url: str | None = Field(default=None, max_length=2048)
    secret: str | None = Field(
        default=None,
        max_length=4096,
        description="Webhook URL (Slack webhook, Teams), bot token, routing key, API key, "
        "HMAC secret or SMTP password. Stored encrypted; never returned.",
    )
    options: dict[str, Any] | None = Field(
        default=None,
        description="Per kind: slack_bot `channel`; email `host`, `port`, `from`, `to` (list), "
        "`starttls`, `tls`, `username`.",
    )
    rules: list[RuleSpec] | None = Field(default=None, max_length=32)
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return check_url(value) if value else value

    @field_validator("options")
    @classmethod
    def _small_options(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(str(value)) > 8192:
            raise ValueError("options are limited to 8 KiB")
        return value


class ChannelCreate(_Settings):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    name: str = ChannelName
    kind: Kind

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.kind in SECRET_IS_URL and self.secret:
            check_url(self.secret)
        check_complete(self.kind, self.url or "", bool(self.secret), self.options or {})
        return self


class ChannelUpdate(_Settings):
    """Fields to change; omitted ones stay. `secret: ""` removes the secret."""

    model_config = ConfigDict(extra="forbid")


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: Kind
    url: str = Field(description="Scheme and host only (paths may carry tokens).")
    secret: str = Field(description='"********" when a secret is set, else "".')
    options: dict[str, Any]
    rules: list[RuleSpec]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelRead]


class ProbeResult(BaseModel):
    """The outcome of one test message (one attempt, no retries)."""

    channel: str
    delivered: bool
    retryable: bool = Field(description="Whether a real message would have been retried.")
    error: str = ""
    provider_ref: str = ""


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    notification_id: str
    incident_id: str
    channel: str
    status: Literal["delivered", "failed"] = Field(
        description="`failed`: given up after retries, and dead-lettered."
    )
    attempts: int
    detail: str
    provider_ref: str
    updated_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryRead]


class SlackAnswer(BaseModel):
    """What the Slack interactivity endpoint did with a button click."""

    ok: bool
    action_id: str
    decision: Literal["approve", "reject"]
    actor: str
    status: str = ""
