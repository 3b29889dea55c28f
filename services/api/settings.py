"""Settings of the api service."""

from __future__ import annotations

import json
from datetime import timedelta

from pydantic import Field, SecretStr, field_validator

from services.api.auth.throttle import ThrottlePolicy
from services.api.incidents.correlation import CorrelationPolicy, ServiceGraph
from services.api.incidents.inputs import IncidentPolicy
from services.api.incidents.quiet import QuietPolicy
from services.core.settings import CommonSettings


class ApiSettings(CommonSettings):
    """Environment: VIGIL_API_HOST, VIGIL_API_PORT, VIGIL_DATABASE_URL, VIGIL_REOPEN_WINDOW_S..."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_group: str = "vigil-api"
    reopen_window_s: float = Field(
        default=900,
        ge=0,
        description="A resolved incident reopens if its service fires again within this time.",
    )
    group_window_s: float = Field(
        default=300,
        ge=0,
        description="A signal joins a dependency's open incident active within this time.",
    )
    service_graph: str = Field(
        default="{}",
        description='Service dependencies as JSON: {"checkout": ["payments", "db"]}.',
    )
    topology_max_age_s: float = Field(
        default=3600,
        gt=0,
        description="Dependency edges learned from traces count while seen this recently.",
    )
    quiet_period_s: float = Field(
        default=0,
        ge=0,
        description="After its last signal recovers, an incident resolves once this long "
        "passes without a new firing signal (0: at once).",
    )
    flap_window_s: float = Field(default=600, gt=0)
    flap_threshold: int = Field(
        default=4, ge=2, description="Firing/recovered changes within the window = flapping."
    )
    flap_quiet_period_s: float = Field(
        default=600, ge=0, description="Quiet period of a flapping incident."
    )
    sweep_interval_s: float = Field(default=5.0, gt=0)
    consumer_batch: int = Field(
        default=1000, ge=1, le=10_000, description="Messages per transaction (at most)."
    )
    consumer_batch_wait_s: float = Field(default=0.05, ge=0)
    feed_poll_s: float = Field(default=0.5, gt=0)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    outbox_poll_s: float = Field(default=0.5, gt=0)
    outbox_batch: int = Field(default=500, ge=1)
    outbox_retention_s: float = Field(
        default=7 * 86400, ge=60, description="Published outbox rows are deleted after this."
    )
    prediction_retention_s: float = Field(
        default=7 * 86_400,
        gt=0,
        description="Stored predictions older than this are deleted (docs/learning.md).",
    )
    # Remediation (see docs/remediation.md).
    remediation_policies: str = Field(
        default="",
        description="Policy YAML files or directories, comma separated (read at start).",
    )
    remediation_sweep_interval_s: float = Field(
        default=5.0, gt=0, description="How often approvals expire and actions are verified."
    )
    remediation_verify_window_s: float = Field(
        default=300, gt=0, description="An action's signals must recover within this time."
    )
    remediation_verify_settle_s: float = Field(
        default=30, ge=0, description="...and stay quiet this long, for it to be verified."
    )
    remediation_escalation_channel: str = Field(
        default="oncall", description="Told when a policy names nobody to escalate to."
    )
    remediation_control_interval_s: float = Field(
        default=60, gt=0, description="How often the kill switch is re-sent to the workers."
    )
    # Notification channels and Slack callbacks (see docs/notifications.md).
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key(s) encrypting channel secrets, comma separated (first "
        "encrypts, all decrypt). Required in production; remediate needs the same.",
    )
    secret_key_file: str = Field(
        default="./vigil.secret-key",
        description="Outside production, where a generated key is kept when none is set.",
    )
    slack_signing_secret: SecretStr = Field(
        default=SecretStr(""),
        description="The Slack app's signing secret; enables the interactivity endpoint.",
    )
    slack_users: str = Field(
        default="{}",
        description='Slack user id -> Vigil API key name as JSON: {"U024BE7LH": "alice"}; '
        "only names with an active approver key may decide from Slack.",
    )
    notify_outbound_allow_private: bool = Field(
        default=False, description="Test messages may go to private addresses."
    )
    notify_outbound_allow_loopback: bool = Field(
        default=False, description="Test messages may go to loopback addresses."
    )
    notify_timeout_s: float = Field(default=10.0, gt=0)
    # Brute-force guard on API keys (see docs/security.md).
    auth_failure_limit: int = Field(
        default=10, ge=1, description="Failed key checks from one address before it gets 429."
    )
    auth_key_failure_limit: int = Field(
        default=20, ge=1, description="Failed checks of one key id before it gets 429."
    )
    auth_failure_window_s: float = Field(
        default=60, gt=0, description="The sliding window both limits count failures in."
    )
    auth_throttle_max_tracked: int = Field(
        default=10_000, ge=1, description="Addresses (and key ids) remembered at most."
    )
    notify_link_base: str = Field(
        default="", description="Public console URL, for links in messages."
    )

    @field_validator("service_graph")
    @classmethod
    def _graph_is_json(cls, value: str) -> str:
        parsed = json.loads(value or "{}")
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
            for k, v in parsed.items()
        ):
            raise ValueError('service_graph must be JSON like {"checkout": ["payments"]}')
        return value

    @field_validator("slack_users")
    @classmethod
    def _users_are_json(cls, value: str) -> str:
        parsed = json.loads(value or "{}")
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in parsed.items()
        ):
            raise ValueError('slack_users must be JSON like {"U024BE7LH": "alice"}')
        return value

    def throttle_policy(self) -> ThrottlePolicy:
        """The brute-force guard's limits."""
        return ThrottlePolicy(
            client_limit=self.auth_failure_limit,
            key_limit=self.auth_key_failure_limit,
            window_s=self.auth_failure_window_s,
            max_tracked=self.auth_throttle_max_tracked,
        )

    def slack_user_map(self) -> dict[str, str]:
        """Slack user id -> Vigil identity."""
        return dict(json.loads(self.slack_users or "{}"))

    def incident_policy(self) -> IncidentPolicy:
        """The correlation and quiet-period policy these settings describe."""
        graph = ServiceGraph.from_mapping(json.loads(self.service_graph or "{}"))
        return IncidentPolicy(
            correlation=CorrelationPolicy(
                reopen_window=timedelta(seconds=self.reopen_window_s),
                group_window=timedelta(seconds=self.group_window_s),
                graph=graph,
            ),
            topology_max_age=timedelta(seconds=self.topology_max_age_s),
            quiet=QuietPolicy(
                quiet_period=timedelta(seconds=self.quiet_period_s),
                flap_window=timedelta(seconds=self.flap_window_s),
                flap_threshold=self.flap_threshold,
                flap_quiet_period=timedelta(seconds=self.flap_quiet_period_s),
            ),
        )
