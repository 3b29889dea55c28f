"""Composition root of the remediate service: real adapters by default, fakes from tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prometheus_client.registry import Collector

from services.core.bus import Bus
from services.core.db import make_engine
from services.core.metrics import Value
from services.core.netpolicy import OutboundPolicy
from services.core.topics import REMEDIATION_COMMANDS
from services.remediate.clock import Clock, SystemClock
from services.remediate.executors.base import Executor, ExecutorRegistry
from services.remediate.executors.command import CommandConfig, CommandExecutor
from services.remediate.executors.demo import DemoCluster, DemoExecutor
from services.remediate.executors.kubernetes import KubernetesConfig, KubernetesExecutor
from services.remediate.executors.runbooks import (
    HttpRunbookExecutor,
    RunbookConfig,
    RundeckConfig,
    StackStormConfig,
    WebhookConfig,
)
from services.remediate.notify.base import ChannelConfig
from services.remediate.notify.directory import DatabaseChannels, WithExtraChannels
from services.remediate.notify.flood import FloodGuard
from services.remediate.notify.incidents import NotificationPlanner, RuleSource
from services.remediate.notify.keys import secret_box
from services.remediate.notify.metrics import NotifyCollector
from services.remediate.notify.pipeline import NotificationWorker
from services.remediate.notify.registry import ChannelDirectory
from services.remediate.notify.retry import RetryPolicy
from services.remediate.notify.service import build_notify
from services.remediate.safety import (
    BlastRadius,
    CircuitBreaker,
    KillSwitch,
    RateLimits,
    SafetyRails,
    StoreLedger,
)
from services.remediate.settings import RemediateSettings
from services.remediate.worker import RemediationWorker

LEDGER_STORE = "remediate-ledger"


def build_rails(settings: RemediateSettings, clock: Clock) -> SafetyRails:
    """The safety rails configured by settings."""
    return SafetyRails(
        kill_switch=KillSwitch(
            engaged=settings.remediate_kill_switch,
            reason="VIGIL_REMEDIATE_KILL_SWITCH is set" if settings.remediate_kill_switch else "",
            by="configuration" if settings.remediate_kill_switch else "",
        ),
        blast=BlastRadius(
            min_replicas=settings.remediate_min_replicas,
            max_targets_per_hour=settings.remediate_max_targets_per_hour,
            clock=clock,
        ),
        limits=RateLimits(
            per_target_burst=settings.remediate_per_target_burst,
            per_target_per_hour=settings.remediate_per_target_per_hour,
            global_burst=settings.remediate_global_burst,
            global_per_hour=settings.remediate_global_per_hour,
            clock=clock,
        ),
        breaker=CircuitBreaker(
            threshold=settings.remediate_breaker_failures,
            cool_down=timedelta(seconds=settings.remediate_breaker_cool_down_s),
            clock=clock,
        ),
    )


def build_executors(
    settings: RemediateSettings, clock: Clock, demo: DemoCluster | None = None
) -> list[Executor]:
    """The executors whose configuration is present."""
    s = settings
    executors: list[Executor] = []
    if s.remediate_k8s_host:
        k8s = KubernetesConfig(
            host=s.remediate_k8s_host,
            token=s.remediate_k8s_token.get_secret_value(),
            verify_ssl=s.remediate_k8s_verify_ssl,
            ca_cert=s.remediate_k8s_ca_cert,
        )
        executors.append(KubernetesExecutor(k8s, clock))
    runbooks = RunbookConfig(
        rundeck=RundeckConfig(
            s.remediate_rundeck_url,
            s.remediate_rundeck_token.get_secret_value(),
            s.remediate_rundeck_api_version,
        )
        if s.remediate_rundeck_url
        else None,
        stackstorm=StackStormConfig(
            s.remediate_stackstorm_url, s.remediate_stackstorm_api_key.get_secret_value()
        )
        if s.remediate_stackstorm_url
        else None,
        webhooks={
            name: WebhookConfig(w.url, w.auth, w.secret.get_secret_value())
            for name, w in s.remediate_webhooks.items()
        },
        policy=OutboundPolicy(
            allow_private=s.remediate_outbound_allow_private,
            allow_loopback=s.remediate_outbound_allow_loopback,
        ),
    )
    executors.append(HttpRunbookExecutor(runbooks, clock))
    if s.remediate_commands:
        config = CommandConfig(
            allowed=dict(s.remediate_commands), timeout_s=s.remediate_command_timeout_s
        )
        executors.append(CommandExecutor(config))
    if demo is not None or s.remediate_demo:
        executors.append(DemoExecutor(demo or DemoCluster.of(s.remediate_demo_workloads)))
    return executors


def build_remediate(
    settings: RemediateSettings,
    bus: Bus,
    *,
    clock: Clock | None = None,
    executors: list[Executor] | None = None,
    demo: DemoCluster | None = None,
) -> RemediationWorker:
    """Wire the remediation worker (call before bus.start())."""
    clock = clock or SystemClock()
    store = bus.state_store(LEDGER_STORE, partitioned_like=REMEDIATION_COMMANDS)
    registry = ExecutorRegistry(
        executors if executors is not None else build_executors(settings, clock, demo)
    )
    worker = RemediationWorker(
        bus,
        registry=registry,
        rails=build_rails(settings, clock),
        ledger=StoreLedger(store, clock),
        clock=clock,
        escalation_channel=settings.remediate_escalation_channel,
        action_timeout_s=settings.remediate_action_timeout_s,
    )
    worker.attach(group=settings.remediate_group)
    return worker


def remediate_metrics(worker: RemediationWorker) -> list[Value]:
    """The remediation worker's counters, for a /metrics registry."""
    return [
        Value("vigil_remediate_executed", "Commands run by an executor", lambda: worker.executed),
        Value(
            "vigil_remediate_replayed",
            "Redelivered commands answered from the ledger",
            lambda: worker.replayed,
        ),
    ]


@dataclass
class NotifyService:
    """The notification side of a remediate process: planner, delivery worker, flusher."""

    planner: NotificationPlanner
    worker: NotificationWorker
    channels: ChannelDirectory
    flush_interval_s: float = 5.0
    # Background reload of the channel table (None when channels are given by the caller).
    refresher: Callable[[], Coroutine[Any, Any, None]] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start the periodic flood-digest flush and channel reload (after bus.start())."""
        self._tasks.append(
            asyncio.create_task(self.planner.run_flusher(self.flush_interval_s), name="digests")
        )
        if self.refresher is not None:
            self._tasks.append(asyncio.create_task(self.refresher(), name="channels"))

    async def stop(self) -> None:
        """Stop the flusher and release HTTP connections (after bus.stop())."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.worker.aclose()

    def collector(self) -> Collector:
        """Per-channel delivery metrics, for the process's /metrics."""
        return NotifyCollector(self.worker, self.planner)


def build_notifications(
    settings: RemediateSettings,
    bus: Bus,
    *,
    channels: ChannelDirectory | None = None,
    rules: RuleSource | None = None,
    retry: RetryPolicy | None = None,
    extra: Sequence[ChannelConfig] = (),
) -> NotifyService:
    """Wire notification planning and delivery into a remediate process (before bus.start()).

    By default channels and routing rules are read from the api's channel table in
    `settings.database_url`, secrets decrypted with `settings.secret_key` (docs/notifications.md);
    `extra` channels are added that hear about every incident change (`vigil demo --webhook`).
    Tests pass `channels` and `rules` instead.
    """
    refresher = None
    if channels is None or rules is None:
        box = secret_box(
            keys=settings.secret_key.get_secret_value(),
            key_file=settings.secret_key_file,
            environment=settings.environment,
        )
        table = DatabaseChannels(
            make_engine(settings.database_url), box, refresh_s=settings.notify_channels_refresh_s
        )
        refresher = table.run
        layered = WithExtraChannels(table, extra)
        channels = channels or layered
        rules = rules or layered
    policy = OutboundPolicy(
        allow_private=settings.remediate_outbound_allow_private,
        allow_loopback=settings.remediate_outbound_allow_loopback,
    )
    worker = build_notify(
        bus,
        group=settings.remediate_group,
        channels=channels,
        policy=policy,
        retry=retry or RetryPolicy(max_attempts=settings.notify_max_attempts),
        timeout_s=settings.notify_timeout_s,
    )
    planner = NotificationPlanner(
        bus,
        rules,
        flood=FloodGuard(
            threshold=settings.notify_flood_threshold, window_s=settings.notify_flood_window_s
        ),
        link_base=settings.notify_link_base,
    )
    planner.attach(group=settings.remediate_group)
    return NotifyService(planner, worker, channels, refresher=refresher)
