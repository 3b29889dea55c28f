"""The logs worker: thin adapter between the bus and the pure LogsMonitor."""

from __future__ import annotations

import logging
from typing import cast

from services.core.bus import Bus
from services.core.bus.base import StateStore
from services.core.events import Anomaly, Event, LogRecord
from services.core.topics import ANOMALIES, TELEMETRY_LOGS
from services.detect.logs.monitor import LogsMonitor

log = logging.getLogger(__name__)

MAX_CHECKPOINT_BYTES = 900_000  # stay under Kafka's default 1 MB message limit


class LogsWorker:
    """Consumes telemetry.logs, publishes log anomalies, checkpoints per-service state.

    A service's state (its templates, with their ids, and the detectors' baselines) is stored
    every `checkpoint_every` of its lines and before any anomaly it causes is published, so
    templates and their ids survive restarts and partition moves.
    """

    def __init__(
        self, monitor: LogsMonitor, bus: Bus, store: StateStore, *, checkpoint_every: int = 5000
    ) -> None:
        self.monitor = monitor
        self.bus = bus
        self.store = store
        self.checkpoint_every = checkpoint_every
        self.lines = 0
        self.restored = 0

    @classmethod
    def attach(
        cls, monitor: LogsMonitor, bus: Bus, *, group: str, checkpoint_every: int = 5000
    ) -> LogsWorker:
        """Create the worker and subscribe it to telemetry.logs."""
        store = bus.state_store("detect-logs", partitioned_like=TELEMETRY_LOGS)
        worker = cls(monitor, bus, store, checkpoint_every=checkpoint_every)
        bus.subscribe(TELEMETRY_LOGS, worker.handle, group=group)
        bus.on_partitions_revoked(worker.forget)
        return worker

    def forget(self) -> None:
        """Drop in-memory state; each service reloads from the store on its next line."""
        self.monitor.services.clear()

    async def handle(self, event: Event) -> None:
        """Process one log record."""
        record = cast(LogRecord, event)
        key = record.partition_key()
        if not self.monitor.knows(key):
            blob = self.store.get(key)
            if blob is not None and self.monitor.restore(key, blob):
                self.restored += 1
        anomalies = self.monitor.observe(record)
        self.lines += 1
        state = self.monitor.services.get(key)
        if state is not None and state.lines % self.checkpoint_every == 0:
            self._checkpoint(key)
        if anomalies:
            await self._publish(anomalies)

    async def _publish(self, anomalies: list[Anomaly]) -> None:
        # The transition must survive a crash before anyone hears of it (as in MetricsWorker).
        for key in {a.partition_key() for a in anomalies}:
            self._checkpoint(key)
        await self.store.flush()
        await self.bus.publish(ANOMALIES, anomalies)

    def _checkpoint(self, key: str) -> None:
        blob = self.monitor.snapshot(key)
        if blob is None:
            return
        if len(blob) > MAX_CHECKPOINT_BYTES:
            log.warning("log state of %s is %d bytes; not checkpointed", key, len(blob))
            return
        self.store.put(key, blob)
