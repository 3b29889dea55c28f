"""The metrics worker: thin adapter between the bus and the pure MetricsMonitor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from services.core.bus import Bus
from services.core.bus.base import StateStore
from services.core.events import Event, MetricPoint, utcnow
from services.core.topics import ANOMALIES, TELEMETRY_METRICS
from services.detect.learning import LearningLoop
from services.detect.monitor import MetricsMonitor
from services.detect.predict.worker import PredictionWorker

log = logging.getLogger(__name__)

# Points stamped further ahead of this worker's clock are skipped (see `handle`); ahead by less
# is ordinary clock drift between hosts.
MAX_FUTURE_SKEW = timedelta(minutes=15)


class MetricsWorker:
    """Consumes telemetry.metrics, publishes anomalies, checkpoints per-series state.

    A series' state is checkpointed every `checkpoint_every` points and at every firing or
    resolved transition, before the anomaly is published: after a restart the series resumes
    from its checkpoint instead of re-learning (and re-alarming) from scratch.
    """

    def __init__(
        self,
        monitor: MetricsMonitor,
        bus: Bus,
        store: StateStore,
        *,
        checkpoint_every: int = 50,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.monitor = monitor
        self.bus = bus
        self.store = store
        self.checkpoint_every = checkpoint_every
        self.points = 0
        self.restored = 0
        self.anomalies = 0
        self.skewed = 0  # points stamped too far in the future, skipped
        self.clock = clock
        self.learning: LearningLoop | None = None  # feedback and model versions (learning.py)
        # Forecasts and failure prediction (predict/worker.py): sees every point consumed here.
        self.predictor: PredictionWorker | None = None

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
        if point.timestamp > self.clock() + MAX_FUTURE_SKEW:
            # A sender's clock far ahead (docs/operations.md, "Faults"): learning the point
            # would move its series' clock forward, and every later, correct point would then
            # be skipped as late. Skipped instead, and counted.
            self.skewed += 1
            if self.skewed == 1 or self.skewed % 1000 == 0:
                log.warning(
                    "skipped %d point(s) stamped ahead of this clock by more than %s (latest: "
                    "%s at %s)",
                    self.skewed,
                    MAX_FUTURE_SKEW,
                    point.partition_key(),
                    point.timestamp,
                )
            return
        key = point.partition_key()
        if not self.monitor.knows(key):
            blob = self.store.get(key)
            if blob is not None and self.monitor.restore(key, blob):
                self.restored += 1
        if self.learning is not None:
            await self.learning.before_point(key)
        failures = self.monitor.model_failures
        before = self.monitor.series.get(key)
        points_before = before.points if before is not None else 0
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
        # Only a point the series took in moves it towards its next checkpoint: a replayed
        # (already seen) point leaves `points` where it was, and must not write it again.
        advanced = state is not None and state.points != points_before
        if anomalies or (
            advanced and state is not None and state.points % self.checkpoint_every == 0
        ):
            snapshot = self.monitor.snapshot(key)
            if snapshot is not None:
                self.store.put(key, snapshot)
                if self.learning is not None:
                    await self.learning.after_checkpoint(key)
        if anomalies:
            await self.store.flush()
        if self.learning is not None:
            await self.learning.after_point()
        if self.predictor is not None:
            await self.predictor.observe(point)
