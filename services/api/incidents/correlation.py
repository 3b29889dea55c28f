"""Which incident a signal belongs to. Pure domain logic: no database, no bus.

A signal is an anomaly (its fingerprint is the series) or an external alert (its fingerprint is
`alert:<source>:<fingerprint>`). Rules, in order, for a firing signal:

1. its fingerprint is already firing in an open incident: a duplicate (dedup by fingerprint);
2. the service has an open incident (its own, or one its signals already joined): join it;
3. a service next to it in the dependency graph has an open incident that saw a signal within
   the group window (time proximity): join that one;
4. the service's incident resolved within the reopen window: reopen it;
5. otherwise open a new incident.

A resolved signal clears its fingerprint from the incident firing it; when nothing fires any
more the incident has recovered (the service layer resolves it, at once or after a quiet
period). A resolved signal no open incident knows is recorded and otherwise ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Action(StrEnum):
    OPEN = "open"
    ATTACH = "attach"
    DEDUP = "dedup"  # the fingerprint is already firing in this incident
    REOPEN = "reopen"
    CLEAR = "clear"  # a fingerprint recovered; the incident stays open while others fire
    RESOLVE = "resolve"  # the last firing fingerprint recovered
    IGNORE = "ignore"


@dataclass(frozen=True)
class IncidentView:
    """What correlation needs to know about an existing incident."""

    id: str
    firing: frozenset[str] = frozenset()
    resolved_at: datetime | None = None
    service: str = ""
    last_signal_at: datetime | None = None
    services: frozenset[str] = frozenset()

    def involves(self, service: str) -> bool:
        """Whether signals of `service` opened or joined this incident."""
        return self.service in ("", service) or service in self.services


@dataclass(frozen=True)
class Signal:
    """A firing or resolved signal for a fingerprint (series or alert) of a service."""

    status: str
    service: str
    series: str
    at: datetime


@dataclass(frozen=True)
class ServiceGraph:
    """Which services depend on which; grouping treats an edge as going both ways.

    Examples
    --------
    >>> graph = ServiceGraph.from_mapping({"checkout": ["payments"]})
    >>> sorted(graph.neighbours("payments"))
    ['checkout']
    """

    edges: frozenset[tuple[str, str]] = frozenset()
    _adjacent: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)

    @classmethod
    def from_mapping(cls, depends_on: Mapping[str, Iterable[str]]) -> ServiceGraph:
        """Build from `{service: [services it depends on]}`."""
        return cls.from_edges((a, b) for a, deps in depends_on.items() for b in deps)

    def union(self, edges: Iterable[tuple[str, str]]) -> ServiceGraph:
        """This graph plus more (caller, callee) edges, e.g. learned from traces."""
        return ServiceGraph.from_edges([*self.edges, *edges])

    @classmethod
    def from_edges(cls, pairs: Iterable[tuple[str, str]]) -> ServiceGraph:
        """Build from (dependent, dependency) pairs."""
        edges = frozenset((a, b) for a, b in pairs if a != b)
        adjacent: dict[str, set[str]] = {}
        for a, b in edges:
            adjacent.setdefault(a, set()).add(b)
            adjacent.setdefault(b, set()).add(a)
        return cls(edges, {k: frozenset(v) for k, v in adjacent.items()})

    def neighbours(self, service: str) -> frozenset[str]:
        """Services directly upstream or downstream of `service`."""
        return self._adjacent.get(service, frozenset())


@dataclass(frozen=True)
class CorrelationPolicy:
    reopen_window: timedelta = timedelta(minutes=15)
    group_window: timedelta = timedelta(minutes=5)
    graph: ServiceGraph = field(default_factory=ServiceGraph)


@dataclass(frozen=True)
class Decision:
    action: Action
    incident_id: str | None = None


def correlate(
    signal: Signal,
    candidates: Sequence[IncidentView],
    last_resolved: IncidentView | None,
    policy: CorrelationPolicy,
) -> Decision:
    """Decide what a signal does, given the open incidents of its service and its neighbours."""
    holder = next((c for c in candidates if signal.series in c.firing), None)
    if signal.status != "firing":
        if holder is None:
            return Decision(Action.IGNORE)
        if holder.firing == {signal.series}:
            return Decision(Action.RESOLVE, holder.id)
        return Decision(Action.CLEAR, holder.id)
    if holder is not None:
        return Decision(Action.DEDUP, holder.id)
    own = [c for c in candidates if c.involves(signal.service)]
    if own:
        # Prefer the incident the service opened over one it joined.
        own.sort(key=lambda c: c.service != signal.service)
        return Decision(Action.ATTACH, own[0].id)
    near = _nearby(signal, candidates, policy)
    if near is not None:
        return Decision(Action.ATTACH, near.id)
    if (
        last_resolved is not None
        and last_resolved.resolved_at is not None
        and signal.at - last_resolved.resolved_at <= policy.reopen_window
    ):
        return Decision(Action.REOPEN, last_resolved.id)
    return Decision(Action.OPEN)


def _nearby(
    signal: Signal, candidates: Sequence[IncidentView], policy: CorrelationPolicy
) -> IncidentView | None:
    """The most recently active open incident of a neighbouring service, if recent enough."""
    neighbours = policy.graph.neighbours(signal.service)
    recent = [
        c
        for c in candidates
        if c.service in neighbours
        and c.last_signal_at is not None
        and abs(signal.at - c.last_signal_at) <= policy.group_window
    ]
    return max(recent, key=lambda c: c.last_signal_at or signal.at, default=None)
