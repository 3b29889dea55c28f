"""What the api's notification routes need from settings, handed to `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.core.netpolicy import OutboundPolicy
from services.remediate.notify.secretbox import SecretBox, generate_key


@dataclass(frozen=True)
class NotifyConfig:
    """Secret box for channel secrets, outbound policy for test messages, Slack callbacks."""

    box: SecretBox
    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    timeout_s: float = 10.0
    slack_signing_secret: str = field(default="", repr=False)
    slack_window_s: float = 300.0
    # Slack user id -> Vigil API key name; users not listed may not decide from Slack.
    slack_users: dict[str, str] = field(default_factory=dict)
    link_base: str = ""
    # Where Slack's `response_url`s may point: the decision is echoed there (nowhere else, so
    # a payload cannot make the api call arbitrary URLs even with a valid signature).
    slack_response_prefix: str = "https://hooks.slack.com/"

    @classmethod
    def ephemeral(cls) -> NotifyConfig:
        """A throwaway key: for apps built in tests and tools. `build_api` passes the real one."""
        return cls(box=SecretBox(generate_key()))
