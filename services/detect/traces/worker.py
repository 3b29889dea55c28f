"""The traces worker: thin adapter between the bus and the pure TracesMonitor.

Besides anomalies, it publishes the dependency graph it sees as a `TopologySnapshot` on the
compacted `topology` topic: whenever edges appear or age out, and at least every
`topology_every_s` seconds of span time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from services.core.bus import Bus
from services.core.bus.base import StateStore
from services.core.events import Anomaly, Event, Span, TopologyEdge, TopologySnapshot
from services.core.topics import ANOMALIES, TELEMETRY_TRACES, TOPOLOGY
from services.detect.traces.graph import DependencyGraph
from services.detect.traces.monitor import TracesMonitor

log = logging.getLogger(__name__)


def topology_snapshot(
    graph: DependencyGraph, *, tenant: str, source: str, at: float
) -> TopologySnapshot:
    """The graph as an event for the `topology` topic."""
    return TopologySnapshot(
        tenant=tenant,
        source=source,
        at=datetime.fromtimestamp(at, UTC),
        services=graph.services(),
        edges=[
            TopologyEdge(
                caller=e.caller,
                callee=e.callee,
                calls=e.calls,
                errors=e.errors,
                first_seen=datetime.fromtimestamp(e.first_seen, UTC),
                last_seen=datetime.fromtimestamp(e.last_seen, UTC),
            )
            for e in graph.edges()
        ],
    )


class TracesWorker:
    """Consumes telemetry.traces, publishes trace anomalies and topology snapshots."""

    def __init__(
        self,
        monitor: TracesMonitor,
        bus: Bus,
        store: StateStore,
        *,
        checkpoint_every: int = 5000,
        topology_every_s: float = 30.0,
        source: str = "detect",
    ) -> None:
        self.monitor = monitor
        self.bus = bus
        self.store = store
        self.checkpoint_every = checkpoint_every
        self.topology_every_s = topology_every_s
        self.source = source
        self.spans = 0
        self.restored = 0
        self._published_at: dict[str, float] = {}  # tenant -> span time of the last snapshot
        self._since_checkpoint: dict[str, int] = {}

    @classmethod
    def attach(
        cls, monitor: TracesMonitor, bus: Bus, *, group: str, source: str = "detect"
    ) -> TracesWorker:
        """Create the worker and subscribe it to telemetry.traces."""
        store = bus.state_store("detect-traces", partitioned_like=TELEMETRY_TRACES)
        worker = cls(monitor, bus, store, source=source)
        bus.subscribe(TELEMETRY_TRACES, worker.handle, group=group)
        bus.on_partitions_revoked(worker.forget)
        return worker

    def forget(self) -> None:
        """Drop in-memory per-service state; it reloads from the store on the next span."""
        self.monitor.services.clear()

    async def handle(self, event: Event) -> None:
        """Process one span."""
        span = cast(Span, event)
        key = span.partition_key()
        if not self.monitor.knows(key):
            blob = self.store.get(key)
            if blob is not None and self.monitor.restore(key, blob):
                self.restored += 1
        anomalies = self.monitor.observe(span)
        self.spans += 1
        count = self._since_checkpoint.get(key, 0) + 1
        if count >= self.checkpoint_every:
            self._checkpoint(key)
            count = 0
        self._since_checkpoint[key] = count
        if anomalies:
            await self._publish(anomalies)
        await self._maybe_publish_topology(span.tenant)

    async def _publish(self, anomalies: list[Anomaly]) -> None:
        for key in {a.partition_key() for a in anomalies}:
            self._checkpoint(key)
        await self.store.flush()
        await self.bus.publish(ANOMALIES, anomalies)

    def _checkpoint(self, key: str) -> None:
        blob = self.monitor.snapshot(key)
        if blob is not None:
            self.store.put(key, blob)

    async def _maybe_publish_topology(self, tenant: str) -> None:
        graph = self.monitor.graphs.get(tenant)
        if graph is None:
            return
        last = self._published_at.get(tenant, float("-inf"))
        if not graph.changed and graph.clock - last < self.topology_every_s:
            return
        graph.changed = False
        self._published_at[tenant] = graph.clock
        snapshot = topology_snapshot(graph, tenant=tenant, source=self.source, at=graph.clock)
        await self.bus.publish(TOPOLOGY, [snapshot])
