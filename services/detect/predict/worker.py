"""The predictor's bus adapter: metrics, anomalies and incidents in, predictions out."""

from __future__ import annotations

import logging
from typing import cast

from services.core.bus import Bus
from services.core.bus.base import StateStore
from services.core.bus.kafka import KafkaBus
from services.core.events import Anomaly, Event, IncidentEvent, MetricPoint
from services.core.topics import ANOMALIES, INCIDENTS, PREDICTIONS, TELEMETRY_METRICS
from services.detect.broadcast import Broadcast, BusBroadcast, KafkaTail
from services.detect.predict.engine import Intelligence

log = logging.getLogger(__name__)


class PredictionWorker:
    """Feeds `Intelligence` and publishes what it predicts on `predictions`.

    Metric points come from the metrics worker, which hands over each point it consumed (one
    subscription to `telemetry.metrics` per process). Anomalies (features) and incident
    changes (labels) concern every worker, whatever partitions it owns, so they are read in
    full by each process, from the beginning (`services.detect.broadcast`): a restarted
    worker relearns incident history. Load forecasters and resource trends are checkpointed
    per series in a state store partitioned like `telemetry.metrics` (each closed bucket,
    every few resource points), so a restart or a rebalance does not cost a day of seasons.
    """

    def __init__(
        self, intelligence: Intelligence, bus: Bus, store: StateStore | None = None
    ) -> None:
        self.intelligence = intelligence
        self.bus = bus
        self.store = store
        self.broadcast: Broadcast | None = None
        self.failures = 0
        self.restored = 0
        self._caught_up = False

    @classmethod
    def attach(
        cls,
        intelligence: Intelligence,
        bus: Bus,
        *,
        group: str,
        servers: list[str] | None = None,
        prefix: str = "",
    ) -> PredictionWorker:
        """Create the worker and have `anomalies` and `incidents` broadcast to it."""
        store = bus.state_store("detect-predict", partitioned_like=TELEMETRY_METRICS)
        worker = cls(intelligence, bus, store)
        bus.on_partitions_revoked(intelligence.forget_series)
        topics = [(ANOMALIES, worker.handle_anomaly), (INCIDENTS, worker.handle_incident)]
        if isinstance(bus, KafkaBus):
            worker.broadcast = KafkaTail(
                servers or [],
                topics,
                prefix=prefix,
                client_id="vigil-detect-predict",
                bus_ready=bus.ready,
            )
        else:
            worker.broadcast = BusBroadcast(bus, topics, group=group)
        return worker

    async def observe(self, point: MetricPoint) -> None:
        """Learn one metric point; publish the predictions it causes."""
        if self.broadcast is not None and not self._caught_up:
            self._caught_up = True  # waited for once: a slow broker must not stall every point
            await self.broadcast.ready()
        key = point.partition_key()
        snapshot: bytes | None = None
        try:
            if self.store is not None and not self.intelligence.knows(point):
                blob = self.store.get(key)
                if blob is not None and self.intelligence.restore(point, blob):
                    self.restored += 1
            predictions = self.intelligence.observe_point(point)
            if self.store is not None and self.intelligence.checkpoint_due:
                snapshot = self.intelligence.snapshot(point)
        except Exception:  # noqa: BLE001 - prediction must never cost the detector its point
            self.failures += 1
            log.exception("prediction failed on %s", point.series)
            return
        if predictions:
            await self.bus.publish(PREDICTIONS, predictions)
        if snapshot is not None and self.store is not None:
            # After publishing, as the metrics worker does: a crash in between replays the
            # point, and the forecast is published again under the same id.
            self.store.put(key, snapshot)

    async def handle_anomaly(self, event: Event) -> None:
        """Track a service's anomalous series (a failure-prediction feature)."""
        self.intelligence.observe_anomaly(cast(Anomaly, event))

    async def handle_incident(self, event: Event) -> None:
        """Learn from incident history (labels of the failure classifier)."""
        self.intelligence.observe_incident(cast(IncidentEvent, event))

    def close(self) -> None:
        """Stop reading the broadcast topics."""
        if self.broadcast is not None:
            self.broadcast.close()
