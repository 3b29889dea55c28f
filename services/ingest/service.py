"""The ingest service layer: decoded items -> guard -> shedding -> budget -> bus -> outcome.

Routes decode a request with a pure decoder and hand the result to `IngestService.submit`,
which returns only after the bus acknowledged everything it kept. Nothing here knows HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.core.bus import Bus
from services.core.events import Event, LogRecord, MetricPoint, Span
from services.core.topics import (
    ALERTS_EXTERNAL,
    TELEMETRY_LOGS,
    TELEMETRY_METRICS,
    TELEMETRY_TRACES,
    Topic,
)
from services.ingest.admission import Budget
from services.ingest.errors import Overloaded
from services.ingest.formats import DecodeContext, Decoded, Rejections
from services.ingest.formats.cumulative import CounterState
from services.ingest.guard import CardinalityGuard, admit_logs, admit_spans
from services.ingest.priority import FiringSeries, Priority, Shedder, log_priority, span_priority
from services.ingest.settings import IngestSettings
from services.ingest.telemetry import IngestMetrics

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What became of one request's items."""

    accepted: int
    rejected: Rejections


class IngestService:
    """Admits, sheds and publishes decoded telemetry; owns the process's ingest state."""

    def __init__(
        self,
        settings: IngestSettings,
        bus: Bus,
        *,
        metrics: IngestMetrics | None = None,
        firing: FiringSeries | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.metrics = metrics or IngestMetrics()
        self.firing = firing or FiringSeries()
        self.budget = Budget(
            settings.ingest_max_inflight_points, settings.ingest_max_inflight_bytes
        )
        self.counters = CounterState(settings.ingest_rate_state_max_series)
        self.guard = CardinalityGuard(
            per_metric=settings.ingest_max_series_per_metric,
            per_tenant=settings.ingest_max_series_per_tenant,
            max_tenants=settings.ingest_max_tenants,
            ttl_s=settings.ingest_series_ttl_s,
        )
        # Logs and spans: the series detect keeps state for (see guard.py).
        self.log_guard = CardinalityGuard(
            per_metric=settings.ingest_max_log_services_per_tenant,
            per_tenant=settings.ingest_max_log_services_per_tenant,
            max_tenants=settings.ingest_max_tenants,
            ttl_s=settings.ingest_series_ttl_s,
        )
        self.span_guard = CardinalityGuard(
            per_metric=settings.ingest_max_operations_per_service,
            per_tenant=settings.ingest_max_span_series_per_tenant,
            max_tenants=settings.ingest_max_tenants,
            ttl_s=settings.ingest_series_ttl_s,
            group_reason="cardinality_service",
        )
        self.shedder = Shedder(
            low_at=settings.ingest_shed_low_at,
            normal_at=settings.ingest_shed_normal_at,
            firing=self.firing,
        )

    def context(self, tenant: str) -> DecodeContext:
        """What the decoders need for one request of `tenant`."""
        return DecodeContext(
            tenant=tenant,
            now=datetime.now(UTC),
            counters=self.counters,
            quantiles=self.settings.ingest_quantiles,
            counter_suffixes=self.settings.ingest_counter_suffixes,
            max_items=self.settings.ingest_max_batch,
        )

    def check_capacity(self) -> None:
        """Refuse early (before reading and decoding) when already over budget."""
        if self.budget.load() >= 1.0:
            self._overloaded("request")

    def _overloaded(self, signal: str) -> None:
        self.metrics.rejected.labels(signal, "overloaded").inc()
        raise Overloaded("ingest is over its in-flight budget", self.settings.ingest_retry_after_s)

    async def submit(self, decoded: Decoded, *, tenant: str, signal: str, source: str) -> Outcome:
        """Publish what may pass; returns after the bus acknowledged it (or raises)."""
        rejected = decoded.rejected
        metrics = self.metrics
        for reason, n in rejected.counts.items():
            metrics.rejected.labels(signal, reason).inc(n)
        points, keys = decoded.metrics, decoded.metric_keys
        if len(keys) != len(points):
            keys = [p.partition_key() for p in points]
        if points:
            points, keys, dropped = self.guard.admit(tenant, points, keys)
            self._count_over_cap("metrics", dropped, rejected)
            metrics.series.labels(tenant).set(self.guard.series(tenant))
        logs, spans, alerts = decoded.logs, decoded.spans, decoded.alerts
        if logs:
            logs, dropped = admit_logs(self.log_guard, tenant, logs)
            self._count_over_cap("logs", dropped, rejected)
            metrics.streams.labels("logs", tenant).set(self.log_guard.series(tenant))
        if spans:
            spans, dropped = admit_spans(self.span_guard, tenant, spans)
            self._count_over_cap("traces", dropped, rejected)
            metrics.streams.labels("traces", tenant).set(self.span_guard.series(tenant))
        floor = self.shedder.floor(self.budget.load())
        if floor > Priority.LOW:
            points, keys, logs, spans = self._shed(floor, points, keys, logs, spans, rejected)
        total = len(points) + len(logs) + len(spans) + len(alerts)
        if not total:
            return Outcome(0, rejected)
        if not self.budget.take_items(total):
            self._overloaded(signal)
        metrics.inflight.set(self.budget.items)
        metrics.load.set(self.budget.load())
        try:
            await self._publish(
                keys,
                [
                    (TELEMETRY_METRICS, points),
                    (TELEMETRY_LOGS, logs),
                    (TELEMETRY_TRACES, spans),
                    (ALERTS_EXTERNAL, alerts),
                ],
            )
        finally:
            self.budget.release_items(total)
            metrics.inflight.set(self.budget.items)
        for name, items in (
            ("metrics", points),
            ("logs", logs),
            ("traces", spans),
            ("alerts", alerts),
        ):
            if items:
                metrics.accepted.labels(name, source).inc(len(items))
        return Outcome(total, rejected)

    def _count_over_cap(self, signal: str, dropped: Counter[str], rejected: Rejections) -> None:
        for reason, n in dropped.items():
            rejected.add(reason, f"series over the {reason.split('_')[1]} cardinality cap", n)
            self.metrics.rejected.labels(signal, reason).inc(n)

    def _shed(
        self,
        floor: Priority,
        points: list[MetricPoint],
        keys: list[str],
        logs: list[LogRecord],
        spans: list[Span],
        rejected: Rejections,
    ) -> tuple[list[MetricPoint], list[str], list[LogRecord], list[Span]]:
        metrics = self.metrics
        points, keys, shed, protected = self.shedder.metrics(points, keys, floor)
        for reason, n in protected.items():
            metrics.protected.labels(reason).inc(n)
        logs, shed_logs = Shedder.others(logs, log_priority, floor)
        spans, shed_spans = Shedder.others(spans, span_priority, floor)
        for signal, counts in (("metrics", shed), ("logs", shed_logs), ("traces", shed_spans)):
            for priority, n in counts.items():
                metrics.shed.labels(signal, priority).inc(n)
                rejected.add(f"shed_{priority}", f"shed under load ({priority} priority)", n)
        return points, keys, logs, spans

    async def _publish(
        self, keys: list[str], batches: Sequence[tuple[Topic, Sequence[Event]]]
    ) -> None:
        pending = [
            self.bus.publish_keyed(topic, events, keys)
            if topic is TELEMETRY_METRICS
            else self.bus.publish(topic, events)
            for topic, events in batches
            if events
        ]
        if len(pending) == 1:
            await pending[0]
        else:
            await asyncio.gather(*pending)
