"""Trace anomalies per (service, operation), and the dependency graph. Pure domain.

`TracesMonitor.observe(span)` adds the span to its operation's window (`OperationStats`) and to
its tenant's `DependencyGraph`, and returns the anomaly events it causes. Windows close on the
spans' own time (their end), for every service at once, so a service that stops sending spans
is judged too (its traffic drops) and replays give the same anomalies and ids.

A client span naming the service it called (`peer.service`) measures that service from the
outside: its operation's anomalies are reported for the called service (with the caller in the
labels), which is how a database or a dependency that sends no spans of its own shows up.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from services.core.events import Anomaly, Span
from services.detect.traces.anomalies import error_anomaly, latency_anomaly, traffic_anomaly
from services.detect.traces.graph import PEER_ATTRIBUTE, DependencyGraph
from services.detect.traces.stats import OperationStats, TracePolicy

STATE_VERSION = 1
_MAX_CATCH_UP = 360  # windows replayed for a silent service; older ones are skipped


@dataclass(eq=False)
class ServiceTraces:
    """Everything remembered about one service's spans."""

    tenant: str
    service: str
    closed_until: float
    last_ts: float = float("-inf")
    resume_after: float = float("-inf")  # after a restore, older (replayed) spans are skipped
    operations: dict[str, OperationStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "tenant": self.tenant,
            "service": self.service,
            "closed_until": self.closed_until,
            "last_ts": self.last_ts,
            "operations": {op: stats.to_list() for op, stats in self.operations.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceTraces:
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"unsupported trace state version {data.get('v')!r}")
        return cls(
            tenant=str(data["tenant"]),
            service=str(data["service"]),
            closed_until=float(data["closed_until"]),
            last_ts=float(data["last_ts"]),
            operations={op: OperationStats.from_list(s) for op, s in data["operations"].items()},
        )


class TracesMonitor:
    """Per-operation trace statistics for many services, plus a graph per tenant."""

    def __init__(self, policy: TracePolicy | None = None, *, graph_ttl_s: float = 300.0) -> None:
        self.policy = policy or TracePolicy()
        self.services: OrderedDict[str, ServiceTraces] = OrderedDict()
        self.graphs: dict[str, DependencyGraph] = {}
        self.graph_ttl_s = graph_ttl_s
        self.clock = float("-inf")
        self._next_close = float("inf")
        self.skipped = 0
        self.evicted = 0

    def observe(self, span: Span) -> list[Anomaly]:
        """Feed one finished span; return the anomaly transitions it causes (usually none)."""
        ts = span.start.timestamp() + span.duration_ms / 1000.0
        graph = self.graphs.get(span.tenant)
        if graph is None:
            graph = self.graphs[span.tenant] = DependencyGraph(ttl_s=self.graph_ttl_s)
        graph.observe_call(
            span.service,
            span.span_id,
            span.parent_span_id,
            ts,
            error=span.error,
            peer=span.attributes.get(PEER_ATTRIBUTE) if span.attributes else None,
        )
        key = f"{span.tenant}/{span.service}"
        state = self.services.get(key)
        if state is None:
            state = self._new_state(key, span, ts)
        elif ts < state.resume_after:
            self.skipped += 1
            return []
        elif ts > state.last_ts:
            state.last_ts = ts
        out: list[Anomaly] = []
        if ts >= self._next_close:
            out = self._close_windows(ts)
        elif self._next_close == float("inf"):
            self._next_close = self._boundary(ts)
        if ts > self.clock:
            self.clock = ts
        stats = state.operations.get(span.operation)
        if stats is None:
            stats = state.operations[span.operation] = OperationStats()
            if len(state.operations) > self.policy.max_operations:
                oldest = min(state.operations, key=lambda op: state.operations[op].last_seen)
                del state.operations[oldest]
            if span.attributes:
                stats.peer = span.attributes.get(PEER_ATTRIBUTE) or None
        stats.add(span.duration_ms, span.error, ts)
        return out

    def _new_state(self, key: str, span: Span, ts: float) -> ServiceTraces:
        state = ServiceTraces(
            tenant=span.tenant,
            service=span.service,
            closed_until=self._boundary(ts) - self.policy.window_s,
            last_ts=ts,
        )
        self.services[key] = state
        while len(self.services) > self.policy.max_services:
            self.services.popitem(last=False)
            self.evicted += 1
        return state

    def _boundary(self, ts: float) -> float:
        width = self.policy.window_s
        return (ts // width + 1) * width

    def _close_windows(self, now: float) -> list[Anomaly]:
        self._next_close = self._boundary(now)
        until = self._next_close - self.policy.window_s
        out: list[Anomaly] = []
        width = self.policy.window_s
        for state in self.services.values():
            if until - state.closed_until > _MAX_CATCH_UP * width:
                state.closed_until = until - _MAX_CATCH_UP * width
            while state.closed_until < until:
                state.closed_until += width
                out.extend(self._close_window(state, state.closed_until))
        for graph in self.graphs.values():
            graph.expire(until)
        return out

    def _close_window(self, state: ServiceTraces, end: float) -> list[Anomaly]:
        out: list[Anomaly] = []
        for operation, stats in state.operations.items():
            report = stats.close(self.policy)
            for transition, build in (
                (report.latency, latency_anomaly),
                (report.errors_transition, error_anomaly),
                (report.traffic, traffic_anomaly),
            ):
                if transition is not None:
                    out.append(
                        build(
                            state.tenant,
                            state.service,
                            stats.peer,
                            operation,
                            report,
                            transition,
                            end,
                        )
                    )
        return out

    def quantiles(
        self, service: str, operation: str, tenant: str = "default"
    ) -> tuple[float, float]:
        """Recent (p50, p99) latency of an operation, in ms (NaN when unknown)."""
        state = self.services.get(f"{tenant}/{service}")
        stats = state.operations.get(operation) if state is not None else None
        if stats is None:
            return float("nan"), float("nan")
        return stats.quantiles()

    # -- checkpoints -------------------------------------------------------------------------

    def snapshot(self, key: str) -> bytes | None:
        """Serialised state of one service (by partition key), or None if unknown."""
        state = self.services.get(key)
        if state is None:
            return None
        return zlib.compress(json.dumps(state.to_dict(), separators=(",", ":")).encode(), 3)

    def restore(self, key: str, blob: bytes) -> bool:
        """Load a service's state from a snapshot; False if the snapshot is unusable."""
        try:
            state = ServiceTraces.from_dict(json.loads(zlib.decompress(blob)))
        except (ValueError, KeyError, TypeError, IndexError, zlib.error):
            return False
        state.resume_after = state.last_ts
        self.services[key] = state
        if self._next_close == float("inf"):
            self._next_close = state.closed_until + self.policy.window_s
        return True

    def knows(self, key: str) -> bool:
        """Whether the monitor holds state for a service (by partition key)."""
        return key in self.services
