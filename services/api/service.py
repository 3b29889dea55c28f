"""Composition root of the api service: database, consumers, relay, feed, sweeper, HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.auth import service as auth_service
from services.api.auth.principal import CLI
from services.api.auth.roles import Role
from services.api.auth.throttle import AuthThrottle
from services.api.consumer import SignalConsumer
from services.api.feed import Broadcaster, ChangeFeed, Sweeper
from services.api.incidents.models import Incident
from services.api.learning_models.consumer import ModelConsumer
from services.api.notifications.config import NotifyConfig
from services.api.outbox import OutboxRelay
from services.api.predictions.consumer import PredictionConsumer
from services.api.remediation.automation import RemediationLoop, after_activity
from services.api.remediation.context import RemediationContext
from services.api.settings import ApiSettings
from services.core.bus import Bus
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import IncidentStatus, RemediationControl
from services.core.metrics import (
    BusCollector,
    Value,
    metrics_endpoint,
    new_registry,
    register_values,
)
from services.core.netpolicy import OutboundPolicy
from services.core.topics import (
    ALERTS_EXTERNAL,
    ANOMALIES,
    INCIDENTS,
    MODELS,
    MODELS_SHADOW,
    NOTIFICATIONS_RESULTS,
    PREDICTIONS,
    REMEDIATION_CONTROL,
    REMEDIATION_REQUESTS,
    REMEDIATION_RESULTS,
    TOPOLOGY,
)
from services.remediate.clock import SystemClock
from services.remediate.executors.base import Executor, ExecutorRegistry
from services.remediate.notify.keys import secret_box
from services.remediate.policies import load_policies
from services.remediate.service import build_executors
from services.remediate.settings import RemediateSettings


@dataclass
class ApiService:
    """Everything the api service runs, wired together."""

    settings: ApiSettings
    bus: Bus
    engine: Engine
    session_factory: sessionmaker[Session]
    consumer: SignalConsumer
    relay: OutboxRelay
    feed: ChangeFeed
    sweeper: Sweeper
    app: FastAPI
    remediation: RemediationLoop
    metrics: CollectorRegistry = field(default_factory=new_registry)  # served at /metrics
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Stores `predictions`; failure alerts open predicted incidents (docs/learning.md).
    predictions: PredictionConsumer | None = None
    # Stores detect's model reports and shadow-run results (docs/learning.md).
    models: ModelConsumer | None = None

    async def start(self, stopping: asyncio.Event | None = None) -> None:
        """Start background work (relay, change feed, sweep); the bus is started by the caller.

        When `stopping` is set, event streams end at once, so that the HTTP server's graceful
        shutdown does not wait for clients that would otherwise stay connected forever.
        """
        self._tasks += [
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(self.relay.prune_forever(), name="outbox-prune"),
            asyncio.create_task(self.feed.run(), name="incident-feed"),
            asyncio.create_task(self.sweeper.run(), name="quiet-sweep"),
            asyncio.create_task(self.remediation.run(), name="remediation-loop"),
        ]
        if stopping is not None:
            self._tasks.append(asyncio.create_task(self._end_streams(stopping), name="sse-end"))

    async def _end_streams(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        self.feed.broadcaster.close()

    async def stop(self) -> None:
        """End event streams, stop background work and release connections."""
        self.feed.broadcaster.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.relay.relay_once()  # flush what is pending if the bus is still up
        self.engine.dispose()

    def create_key(self, name: str, role: Role) -> str:
        """Create an API key and return it (it is not stored, only its hash)."""
        with transaction(self.session_factory) as session:
            _, token = auth_service.create_key(session=session, name=name, role=role, actor=CLI)
        return token

    def ensure_admin_key(self, name: str = "admin") -> str | None:
        """Create an admin key if no key exists yet; returns it (shown once) or None."""
        with transaction(self.session_factory) as session:
            if auth_service.count_keys(session=session) > 0:
                return None
            _, token = auth_service.create_key(
                session=session, name=name, role=Role.ADMIN, actor=CLI
            )
        return token


def build_api(
    settings: ApiSettings, bus: Bus, *, executors: list[Executor] | None = None
) -> ApiService:
    """Wire the api service (call before bus.start()).

    `executors` serve dry-run previews and rollback plans (default: those the remediate
    settings configure, which the api reads for that purpose only).
    """
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    policy = settings.incident_policy()
    relay = OutboxRelay(
        factory,
        bus,
        poll_s=settings.outbox_poll_s,
        batch=settings.outbox_batch,
        retention=timedelta(seconds=settings.outbox_retention_s),
    )
    feed = ChangeFeed(factory, Broadcaster(), poll_s=settings.feed_poll_s)

    def committed() -> None:
        relay.notify()
        feed.notify()

    ctx = remediation_context(settings, executors)
    consumer = SignalConsumer(
        factory,
        policy,
        on_commit=committed,
        on_activity=lambda session, events: after_activity(session, ctx, events),
    )

    async def publish_control(events: list[RemediationControl]) -> None:
        await bus.publish(REMEDIATION_CONTROL, events)

    loop = RemediationLoop(
        factory,
        ctx,
        publish_control,
        interval_s=settings.remediation_sweep_interval_s,
        control_every_s=settings.remediation_control_interval_s,
        on_commit=committed,
    )
    ctx.on_kill_switch = loop.kill_switch_changed
    for topic, handler in (
        (ANOMALIES, consumer.handle_anomalies),
        (ALERTS_EXTERNAL, consumer.handle_alerts),
        (TOPOLOGY, consumer.handle_topology),
        (REMEDIATION_REQUESTS, consumer.handle_activity),
        (REMEDIATION_RESULTS, consumer.handle_activity),
        (NOTIFICATIONS_RESULTS, consumer.handle_activity),
        (INCIDENTS, loop.handle_incidents),
    ):
        bus.subscribe_batch(
            topic,
            handler,
            group=settings.api_group,
            max_batch=settings.consumer_batch,
            max_wait_s=settings.consumer_batch_wait_s,
        )
    predictions = PredictionConsumer(
        factory,
        policy,
        on_commit=committed,
        retention=timedelta(seconds=settings.prediction_retention_s),
    )
    bus.subscribe_batch(
        PREDICTIONS,
        predictions.handle,
        group=settings.api_group,
        max_batch=settings.consumer_batch,
        max_wait_s=settings.consumer_batch_wait_s,
    )
    models = ModelConsumer(factory)
    for topic, handler in ((MODELS, models.handle_reports), (MODELS_SHADOW, models.handle_shadow)):
        bus.subscribe_batch(
            topic,
            handler,
            group=settings.api_group,
            max_batch=settings.consumer_batch,
            max_wait_s=settings.consumer_batch_wait_s,
        )
    sweeper = Sweeper(
        factory, policy.quiet, interval_s=settings.sweep_interval_s, on_commit=committed
    )
    app = create_app(
        factory,
        ready=bus.ready,
        on_commit=relay.notify,
        feed=feed,
        heartbeat_s=settings.sse_heartbeat_s,
        topology_max_age=policy.topology_max_age,
        notify=notify_config(settings),
        remediation=ctx,
        auth_throttle=AuthThrottle(settings.throttle_policy()),
    )
    api = ApiService(settings, bus, engine, factory, consumer, relay, feed, sweeper, app, loop)
    api.predictions = predictions
    api.models = models
    api.metrics.register(BusCollector(bus))
    register_values(api.metrics, api_metrics(api))
    app.add_route("/metrics", metrics_endpoint(api.metrics), include_in_schema=False)
    return api


def remediation_context(
    settings: ApiSettings, executors: list[Executor] | None = None
) -> RemediationContext:
    """Policy files, preview executors and verification window from the settings."""
    paths = [Path(p.strip()) for p in settings.remediation_policies.split(",") if p.strip()]
    if executors is None:
        executors = build_executors(RemediateSettings(), SystemClock())
    return RemediationContext(
        file_policies=load_policies(*paths),
        registry=ExecutorRegistry(executors),
        verify_window=timedelta(seconds=settings.remediation_verify_window_s),
        verify_settle=timedelta(seconds=settings.remediation_verify_settle_s),
        escalation_channel=settings.remediation_escalation_channel,
        link_base=settings.notify_link_base,
    )


def notify_config(settings: ApiSettings) -> NotifyConfig:
    """The channel-secret key, test-message policy and Slack settings (ConfigurationError
    without a key in production)."""
    box = secret_box(
        keys=settings.secret_key.get_secret_value(),
        key_file=settings.secret_key_file,
        environment=settings.environment,
    )
    return NotifyConfig(
        box=box,
        policy=OutboundPolicy(
            allow_private=settings.notify_outbound_allow_private,
            allow_loopback=settings.notify_outbound_allow_loopback,
        ),
        timeout_s=settings.notify_timeout_s,
        slack_signing_secret=settings.slack_signing_secret.get_secret_value(),
        slack_users=settings.slack_user_map(),
        link_base=settings.notify_link_base,
    )


def api_metrics(api: ApiService) -> list[Value]:
    """The api's counters (and open incidents, counted in the database at scrape time)."""

    def open_incidents() -> float:
        try:
            with api.session_factory() as session:
                unresolved = Incident.status != IncidentStatus.RESOLVED
                query = select(func.count()).select_from(Incident).where(unresolved)
                return float(session.scalar(query) or 0)
        except Exception:  # noqa: BLE001 - a scrape must not fail with the database
            return float("nan")

    return [
        Value(
            "vigil_api_signals_recorded",
            "Anomalies and alerts recorded",
            lambda: api.consumer.recorded,
        ),
        Value(
            "vigil_api_signals_duplicate",
            "Redelivered signals skipped",
            lambda: api.consumer.duplicates,
        ),
        Value(
            "vigil_api_incident_events_published",
            "Incident changes and feedback relayed from the outbox",
            lambda: api.relay.published,
        ),
        Value(
            "vigil_api_incidents_quiet_resolved",
            "Incidents resolved after their quiet period",
            lambda: api.sweeper.resolved,
        ),
        Value(
            "vigil_api_remediation_proposed",
            "Remediation actions proposed by policies",
            lambda: api.remediation.proposed,
        ),
        Value(
            "vigil_api_remediation_expired",
            "Approval requests expired (and escalated)",
            lambda: api.remediation.expired,
        ),
        Value(
            "vigil_api_remediation_verifications",
            "Executed actions whose verification concluded (verified or not)",
            lambda: api.remediation.verified,
        ),
        Value("vigil_api_open_incidents", "Incidents not resolved", open_incidents, "gauge"),
        Value(
            "vigil_api_predictions_recorded",
            "Forecasts and failure predictions stored",
            lambda: api.predictions.recorded if api.predictions else 0,
        ),
    ]
