"""Cardinality guard: a cap on distinct series per metric and per tenant.

A point of a series the guard already knows always passes. A new series passes while its
metric and its tenant are under their caps; past a cap its points are dropped and counted
(reason `cardinality_metric` or `cardinality_tenant`), and the rest of the request goes on.
Series unseen for `ttl_s` stop counting, so label churn (pods, deploys) does not exhaust a cap
for good. Memory is bounded by the caps: at most `max_tenants` x `per_tenant` series.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.core.events import MetricPoint


@dataclass
class _Tenant:
    # series key -> (metric name, last seen), least recently seen first
    series: OrderedDict[str, tuple[str, float]] = field(default_factory=OrderedDict)
    per_metric: Counter[str] = field(default_factory=Counter)


class CardinalityGuard:
    """Admits points whose series fit under the caps."""

    def __init__(
        self,
        *,
        per_metric: int,
        per_tenant: int,
        max_tenants: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_metric = per_metric
        self.per_tenant = per_tenant
        self.max_tenants = max_tenants
        self.ttl_s = ttl_s
        self.clock = clock
        self._tenants: dict[str, _Tenant] = {}

    def series(self, tenant: str) -> int:
        """Series currently counted for `tenant`."""
        known = self._tenants.get(tenant)
        return len(known.series) if known else 0

    def admit(
        self, tenant: str, points: Sequence[MetricPoint], keys: Sequence[str]
    ) -> tuple[list[MetricPoint], list[str], Counter[str]]:
        """The points that may pass, their keys, and the dropped ones counted by reason."""
        dropped: Counter[str] = Counter()
        now = self.clock()
        state = self._tenants.get(tenant)
        if state is None:
            if len(self._tenants) >= self.max_tenants:
                self._expire_all(now)
            if len(self._tenants) >= self.max_tenants:
                dropped["cardinality_tenant"] = len(points)
                return [], [], dropped
            state = self._tenants[tenant] = _Tenant()
        self._expire(state, now)
        series, per_metric = state.series, state.per_metric
        kept: list[MetricPoint] = []
        kept_keys: list[str] = []
        for point, key in zip(points, keys, strict=True):
            if key in series:
                series.move_to_end(key)
                series[key] = (point.name, now)
                kept.append(point)
                kept_keys.append(key)
            elif len(series) >= self.per_tenant:
                dropped["cardinality_tenant"] += 1
            elif per_metric[point.name] >= self.per_metric:
                dropped["cardinality_metric"] += 1
            else:
                series[key] = (point.name, now)
                per_metric[point.name] += 1
                kept.append(point)
                kept_keys.append(key)
        return kept, kept_keys, dropped

    def _expire(self, state: _Tenant, now: float) -> None:
        horizon = now - self.ttl_s
        series = state.series
        while series:
            key, (name, seen) = next(iter(series.items()))
            if seen >= horizon:
                return
            del series[key]
            state.per_metric[name] -= 1
            if state.per_metric[name] <= 0:
                del state.per_metric[name]

    def _expire_all(self, now: float) -> None:
        for tenant, state in list(self._tenants.items()):
            self._expire(state, now)
            if not state.series:
                del self._tenants[tenant]
