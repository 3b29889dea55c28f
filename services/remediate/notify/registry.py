"""Which Notifier serves which channel kind, and where channel configurations come from.

Channels are configured through the api (stored with their secret encrypted); the worker sees
them through a `ChannelDirectory`. `StaticChannels` serves a fixed set (tests, a configuration
file); `directory.DatabaseChannels` reads the api's channel table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from services.remediate.notify.base import ChannelConfig, ChannelKind, Notifier, NotifyError
from services.remediate.notify.email_smtp import EmailNotifier
from services.remediate.notify.http import Outbound
from services.remediate.notify.opsgenie import OpsgenieNotifier
from services.remediate.notify.pagerduty import PagerDutyNotifier
from services.remediate.notify.secretbox import SecretBox
from services.remediate.notify.slack_bot import SlackBotNotifier
from services.remediate.notify.slack_webhook import SlackWebhookNotifier
from services.remediate.notify.teams import TeamsNotifier
from services.remediate.notify.webhook import WebhookNotifier

NOTIFIERS: dict[str, Callable[[ChannelConfig, Outbound], Notifier]] = {
    "slack_webhook": SlackWebhookNotifier,
    "slack_bot": SlackBotNotifier,
    "teams": TeamsNotifier,
    "pagerduty": PagerDutyNotifier,
    "opsgenie": OpsgenieNotifier,
    "webhook": WebhookNotifier,
    "email": EmailNotifier,
}


def build_notifier(channel: ChannelConfig, outbound: Outbound) -> Notifier:
    """The integration for a channel; NotifyError for an unknown kind or missing settings."""
    factory = NOTIFIERS.get(channel.kind)
    if factory is None:
        raise NotifyError(f"channel {channel.name!r} has unknown kind {channel.kind!r}")
    return factory(channel, outbound)


class ChannelDirectory(Protocol):
    """Looks channels up by name at delivery time (so edits apply to the next message)."""

    def get(self, name: str) -> ChannelConfig | None:
        """The channel's configuration with its secret decrypted, or None if unknown."""
        ...


class StaticChannels:
    """A fixed set of channels."""

    def __init__(self, channels: Iterable[ChannelConfig]) -> None:
        self._channels = {c.name: c for c in channels}

    def get(self, name: str) -> ChannelConfig | None:
        return self._channels.get(name)


def channel_from_stored(
    *,
    name: str,
    kind: ChannelKind,
    box: SecretBox,
    url: str = "",
    secret_token: str = "",
    options: Mapping[str, Any] | None = None,
) -> ChannelConfig:
    """A channel as stored (secret encrypted with `box`) turned into a usable configuration."""
    secret = box.decrypt(secret_token) if secret_token else ""
    return ChannelConfig(name=name, kind=kind, url=url, secret=secret, options=dict(options or {}))
