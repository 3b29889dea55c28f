"""The metrics worker: thin adapter between the bus and the pure MetricsMonitor."""

from __future__ import annotations

import logging
from typing import cast

from services.core.bus import Bus
from services.core.bus.base import StateStore
from services.core.events import Event, MetricPoint
from services.core.topics import ANOMALIES, TELEMETRY_METRICS
from services.detect.monitor import MetricsMonitor

log = logging.getLogger(__name__)


class MetricsWorker:
    """Consumes telemetry.metrics, publishes anomalies, checkpoints per-series state.

    A series' state is checkpointed every `checkpoint_every` points and at every firing or
    resolved transition, before the anomaly is published: after a restart the series resumes
    from its checkpoint instead of re-learning (and re-alarming) from scratch.
    """

    def __init__(
        self, monitor: MetricsMonitor, bus: Bus, store: StateStore, *, checkpoint_every: int = 50
    ) -> None:
        self.monitor = monitor
        self.bus = bus
        self.store = store
        self.checkpoint_every = checkpoint_every
        self.points = 0
        self.restored = 0
        self.anomalies = 0

    @classmethod
    def attach(
        cls, monitor: MetricsMonitor, bus: Bus, *, group: str, checkpoint_every: int = 50
    ) -> MetricsWorker:
        """Create the worker and subscribe it to telemetry.metrics."""
        store = bus.state_store("detect-series", partitioned_like=TELEMETRY_METRICS)
        worker = cls(monitor, bus, store, checkpoint_every=checkpoint_every)
        bus.subscribe(TELEMETRY_METRICS, worker.handle, group=group)
        bus.on_partitions_revoked(worker.forget)
        return worker

    def forget(self) -> None:
        """Drop in-memory series state; each series reloads from the store on its next point.

        Called when partitions move: another worker may own (and advance) those series now,
        and if they come back, the store has the newer state.
        """
        self.monitor.series.clear()

    async def handle(self, event: Event) -> None:
        """Process one metric point."""
        point = cast(MetricPoint, event)
        key = point.partition_key()
        if not self.monitor.knows(key):
            blob = self.store.get(key)
            if blob is not None and self.monitor.restore(key, blob):
                self.restored += 1
        failures = self.monitor.model_failures
        anomalies = self.monitor.observe(point, key)
        if self.monitor.model_failures != failures and self.monitor.last_model_failure:
            series, error = self.monitor.last_model_failure
            log.warning("model failed on %s, now on the fallback detector: %s", series, error)
        self.points += 1
        state = self.monitor.series.get(key)
        if anomalies:
            # Publish first, then make the transition durable in the checkpoint: a crash in
            # between replays the point and re-emits the transition (same id, deduplicated
            # downstream); the other order could record a transition nobody was told about.
            await self.bus.publish(ANOMALIES, anomalies)
            self.anomalies += len(anomalies)
        if anomalies or (state is not None and state.points % self.checkpoint_every == 0):
            snapshot = self.monitor.snapshot(key)
            if snapshot is not None:
                self.store.put(key, snapshot)
        if anomalies:
            await self.store.flush()
