"""The service dependency graph, built from parent/child spans as they arrive. Pure domain.

A span whose parent belongs to another service is a call from the parent's service (caller)
to its own (callee). Children usually finish, and so arrive, before their parents, so a child
whose parent is not known yet waits (bounded) until the parent shows up. A span naming the
service it called in `peer.service` (a client span to a database or an uninstrumented
dependency) is a call too, which keeps a dependency in the graph while it is down and sends no
spans of its own. Edges carry call and error counts and when they were last seen; an edge
without traffic for `ttl_s` (of span time) is aged out.

Examples
--------
>>> graph = DependencyGraph()
>>> graph.observe_call("frontend", "s1", None, 0.0)
>>> graph.observe_call("checkout", "s2", "s1", 0.1)
>>> [(e.caller, e.callee, e.calls) for e in graph.edges()]
[('frontend', 'checkout', 1)]
>>> graph.expire(1000.0)
>>> graph.edges()
[]
"""

from __future__ import annotations

from dataclasses import dataclass

PEER_ATTRIBUTE = "peer.service"


@dataclass(eq=False, slots=True)
class Edge:
    """One caller -> callee dependency and its traffic."""

    caller: str
    callee: str
    first_seen: float
    last_seen: float
    calls: int = 0
    errors: int = 0


class _Generations:
    """A bounded map: two generations of dicts, the older dropped when the newer fills up."""

    __slots__ = ("limit", "new", "old")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.new: dict[str, str] = {}
        self.old: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        found = self.new.get(key)
        return found if found is not None else self.old.get(key)

    def put(self, key: str, value: str) -> None:
        if len(self.new) >= self.limit:
            self.old, self.new = self.new, {}
        self.new[key] = value

    def pop(self, key: str) -> str | None:
        found = self.new.pop(key, None)
        return found if found is not None else self.old.pop(key, None)


class DependencyGraph:
    """Caller -> callee edges between services, kept current as traffic changes."""

    def __init__(self, *, ttl_s: float = 300.0, max_spans: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self._edges: dict[tuple[str, str], Edge] = {}
        self._services: dict[str, float] = {}  # service -> last seen
        self._span_service = _Generations(max_spans)  # span id -> its service
        self._waiting = _Generations(max_spans)  # parent span id -> child services, "\x1f"-joined
        self.clock = float("-inf")
        self.changed = False  # edges appeared or disappeared since the flag was last cleared

    def observe_call(
        self,
        service: str,
        span_id: str,
        parent_span_id: str | None,
        ts: float,
        *,
        error: bool = False,
        peer: str | None = None,
    ) -> None:
        """Learn from one span: its service, its parent, and the peer it called, if named."""
        if ts > self.clock:
            self.clock = ts
        if self._services.get(service, float("-inf")) < ts:
            self._services[service] = ts
        self._span_service.put(span_id, service)
        if parent_span_id:
            parent = self._span_service.get(parent_span_id)
            if parent is None:
                waiting = self._waiting.get(parent_span_id)
                self._waiting.put(
                    parent_span_id, service if waiting is None else f"{waiting}\x1f{service}"
                )
            elif parent != service:
                self._record(parent, service, ts, error)
        children = self._waiting.pop(span_id)
        if children is not None:
            for child in children.split("\x1f"):
                if child != service:
                    self._record(service, child, ts, False)
        if peer and peer != service:
            self._record(service, peer, ts, error)

    def _record(self, caller: str, callee: str, ts: float, error: bool) -> None:
        edge = self._edges.get((caller, callee))
        if edge is None:
            edge = self._edges[(caller, callee)] = Edge(caller, callee, ts, ts)
            self.changed = True
            if callee not in self._services:
                self._services[callee] = ts
        edge.calls += 1
        if error:
            edge.errors += 1
        if ts > edge.last_seen:
            edge.last_seen = ts

    def expire(self, now: float | None = None) -> None:
        """Drop edges and services without traffic for `ttl_s` before `now` (default: clock)."""
        cutoff = (self.clock if now is None else now) - self.ttl_s
        stale = [key for key, edge in self._edges.items() if edge.last_seen < cutoff]
        for key in stale:
            del self._edges[key]
        if stale:
            self.changed = True
        busy = {name for edge in self._edges.values() for name in (edge.caller, edge.callee)}
        self._services = {
            name: seen for name, seen in self._services.items() if seen >= cutoff or name in busy
        }

    def edges(self) -> list[Edge]:
        """Current edges, sorted by caller then callee."""
        return sorted(self._edges.values(), key=lambda e: (e.caller, e.callee))

    def services(self) -> list[str]:
        """Services seen recently, sorted."""
        return sorted(self._services)

    def callees(self) -> dict[str, set[str]]:
        """`{caller: {callees}}` for the ranker."""
        out: dict[str, set[str]] = {}
        for caller, callee in self._edges:
            out.setdefault(caller, set()).add(callee)
        return out
