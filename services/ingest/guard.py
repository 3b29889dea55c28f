"""Cardinality guard: a cap on distinct series per group and per tenant, for every signal.

What a "series" is depends on the signal, and is what downstream state is kept per:
- metrics: the series key (`tenant/name{labels}`), grouped by metric name (`cardinality_metric`);
- logs: the service writing them (detect mines templates per service), one group per tenant;
- traces: the (service, operation) pair (detect keeps latency sketches per pair), grouped by
  service (`cardinality_service`: operation names carrying ids are the classic explosion).

An item of a series the guard already knows always passes. A new series passes while its
group and its tenant are under their caps; past a cap its items are dropped and counted (by
reason: the group's, or `cardinality_tenant`), and the rest of the request goes on. Series
unseen for `ttl_s` stop counting, so label churn (pods, deploys) does not exhaust a cap for
good. Memory is bounded by the caps: at most `max_tenants` x `per_tenant` series per guard.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from services.core.events import LogRecord, MetricPoint, Span

T = TypeVar("T")
TENANT_REASON = "cardinality_tenant"


@dataclass
class _Tenant:
    # series key -> (group, last seen), least recently seen first
    series: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)
    per_group: Counter[str] = field(default_factory=Counter)


class CardinalityGuard:
    """Admits items whose series fit under the caps."""

    def __init__(
        self,
        *,
        per_metric: int,
        per_tenant: int,
        max_tenants: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        group_reason: str = "cardinality_metric",
    ) -> None:
        self.per_group = per_metric
        self.per_tenant = per_tenant
        self.max_tenants = max_tenants
        self.ttl_s = ttl_s
        self.clock = clock
        self.group_reason = group_reason
        self._tenants: dict[str, _Tenant] = {}

    @property
    def per_metric(self) -> int:
        return self.per_group

    def series(self, tenant: str) -> int:
        """Series currently counted for `tenant`."""
        known = self._tenants.get(tenant)
        return len(known.series) if known else 0

    def tenants(self) -> int:
        """Tenants with series counted."""
        return len(self._tenants)

    def admit(
        self, tenant: str, points: Sequence[MetricPoint], keys: Sequence[str]
    ) -> tuple[list[MetricPoint], list[str], Counter[str]]:
        """The points that may pass, their keys, and the dropped ones counted by reason."""
        return self.admit_items(tenant, points, keys, [p.name for p in points])

    def admit_items(
        self, tenant: str, items: Sequence[T], keys: Sequence[str], groups: Sequence[str]
    ) -> tuple[list[T], list[str], Counter[str]]:
        """`items` whose series (`keys[i]`, in group `groups[i]`) fit, their keys, the drops."""
        dropped: Counter[str] = Counter()
        if not items:
            return [], [], dropped
        now = self.clock()
        state = self._tenant(tenant, now)
        if state is None:
            dropped[TENANT_REASON] = len(items)
            return [], [], dropped
        series, per_group = state.series, state.per_group
        kept: list[T] = []
        kept_keys: list[str] = []
        for item, key, group in zip(items, keys, groups, strict=True):
            if key in series:
                series.move_to_end(key)
                series[key] = (group, now)
            elif len(series) >= self.per_tenant:
                dropped[TENANT_REASON] += 1
                continue
            elif per_group[group] >= self.per_group:
                dropped[self.group_reason] += 1
                continue
            else:
                series[key] = (group, now)
                per_group[group] += 1
            kept.append(item)
            kept_keys.append(key)
        return kept, kept_keys, dropped

    def _tenant(self, tenant: str, now: float) -> _Tenant | None:
        state = self._tenants.get(tenant)
        if state is None:
            if len(self._tenants) >= self.max_tenants:
                self._expire_all(now)
            if len(self._tenants) >= self.max_tenants:
                return None
            state = self._tenants[tenant] = _Tenant()
        self._expire(state, now)
        return state

    def _expire(self, state: _Tenant, now: float) -> None:
        horizon = now - self.ttl_s
        series = state.series
        while series:
            key, (group, seen) = next(iter(series.items()))
            if seen >= horizon:
                return
            del series[key]
            state.per_group[group] -= 1
            if state.per_group[group] <= 0:
                del state.per_group[group]

    def _expire_all(self, now: float) -> None:
        for tenant, state in list(self._tenants.items()):
            self._expire(state, now)
            if not state.series:
                del self._tenants[tenant]


def admit_logs(
    guard: CardinalityGuard, tenant: str, logs: Sequence[LogRecord]
) -> tuple[list[LogRecord], Counter[str]]:
    """Logs whose service fits under `guard`'s caps (one group: services per tenant)."""
    services = [record.service for record in logs]
    kept, _, dropped = guard.admit_items(tenant, logs, services, [""] * len(logs))
    return kept, dropped


def admit_spans(
    guard: CardinalityGuard, tenant: str, spans: Sequence[Span]
) -> tuple[list[Span], Counter[str]]:
    """Spans whose (service, operation) fits under `guard`'s caps (grouped by service)."""
    services = [span.service for span in spans]
    keys = [f"{span.service}\x1f{span.operation}" for span in spans]
    kept, _, dropped = guard.admit_items(tenant, spans, keys, services)
    return kept, dropped
