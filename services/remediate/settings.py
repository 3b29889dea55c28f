"""Settings of the remediate service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from services.core.settings import CommonSettings


class WebhookSetting(BaseModel):
    """One generic webhook runbook endpoint (`VIGIL_REMEDIATE_WEBHOOKS` is a JSON object)."""

    url: str
    auth: Literal["none", "bearer", "hmac"] = "none"
    secret: SecretStr = SecretStr("")


class RemediateSettings(CommonSettings):
    """Environment: VIGIL_KAFKA_BOOTSTRAP, VIGIL_REMEDIATE_GROUP, VIGIL_REMEDIATE_* ..."""

    remediate_group: str = "vigil-remediate"
    remediate_http_host: str = Field(
        default="127.0.0.1", description="Where `vigil run remediate` serves /healthz, /metrics."
    )
    remediate_http_port: int = Field(default=9465, ge=1, le=65535)
    remediate_action_timeout_s: float = Field(default=120.0, gt=0)
    remediate_escalation_channel: str = "oncall"
    # Safety rails (see docs/remediation.md).
    remediate_kill_switch: bool = False
    remediate_per_target_burst: int = Field(default=2, ge=1)
    remediate_per_target_per_hour: float = Field(default=6.0, gt=0)
    remediate_global_burst: int = Field(default=10, ge=1)
    remediate_global_per_hour: float = Field(default=60.0, gt=0)
    remediate_min_replicas: int = Field(default=1, ge=0)
    remediate_max_targets_per_hour: int = Field(default=10, ge=1)
    remediate_breaker_failures: int = Field(default=3, ge=1)
    remediate_breaker_cool_down_s: float = Field(default=600.0, gt=0)
    # Kubernetes (executor enabled when the host is set).
    remediate_k8s_host: str = ""
    remediate_k8s_token: SecretStr = SecretStr("")
    remediate_k8s_verify_ssl: bool = True
    remediate_k8s_ca_cert: str | None = None
    # HTTP runbooks.
    remediate_rundeck_url: str = ""
    remediate_rundeck_token: SecretStr = SecretStr("")
    remediate_rundeck_api_version: int = 41
    remediate_stackstorm_url: str = ""
    remediate_stackstorm_api_key: SecretStr = SecretStr("")
    remediate_webhooks: dict[str, WebhookSetting] = Field(default_factory=dict)
    remediate_outbound_allow_private: bool = False
    remediate_outbound_allow_loopback: bool = False
    # Local commands: name -> absolute path of the executable.
    remediate_commands: dict[str, str] = Field(default_factory=dict)
    remediate_command_timeout_s: float = Field(default=30.0, gt=0)
    # The in-process demo target (`demo.restart`), for `vigil demo`.
    remediate_demo: bool = False
    remediate_demo_workloads: list[str] = Field(
        default_factory=lambda: ["checkout", "payments", "search", "auth"],
        description="The demo target's workloads (JSON list), when no cluster is passed in.",
    )
    # Notifications (see docs/notifications.md): channels come from the api's table.
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key(s) for channel secrets, comma separated (first encrypts); "
        "the same as the api's. Required in production.",
    )
    secret_key_file: str = Field(
        default="./vigil.secret-key",
        description="Outside production, where a generated key is kept when none is set.",
    )
    notify_enabled: bool = True
    notify_link_base: str = Field(
        default="", description="Public console URL; messages link to <base>/incidents/<id>."
    )
    notify_channels_refresh_s: float = Field(default=5.0, gt=0)
    notify_flood_threshold: int = Field(default=5, ge=1)
    notify_flood_window_s: float = Field(default=60.0, gt=0)
    notify_max_attempts: int = Field(default=8, ge=1, le=100)
    notify_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _no_verify_off_in_production(self) -> RemediateSettings:
        if self.environment == "production" and not self.remediate_k8s_verify_ssl:
            raise ValueError("remediate_k8s_verify_ssl may not be off in production")
        return self
