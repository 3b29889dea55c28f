"""Settings of the api service."""

from __future__ import annotations

import json
from datetime import timedelta

from pydantic import Field, field_validator

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
    consumer_batch: int = Field(default=500, ge=1, le=10_000)
    consumer_batch_wait_s: float = Field(default=0.05, ge=0)
    feed_poll_s: float = Field(default=0.5, gt=0)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    outbox_poll_s: float = Field(default=0.5, gt=0)
    outbox_batch: int = Field(default=500, ge=1)

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
