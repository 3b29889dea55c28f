"""Priority-aware shedding: under load, drop the telemetry that matters least first.

Every item gets a priority. Critical: alerts; metric series that are anomalous right now (as
the anomalies topic says) or labelled `priority`/`vigil_priority` critical or high, or
`severity` critical; error and critical logs; failed spans. Low: items labelled priority low;
info logs; successful spans. Normal: the rest. As the in-flight load rises past
`shed_low_at`, low-priority items are dropped; past `shed_normal_at` only critical items pass.
Drops are counted per signal and priority; critical items kept under load are counted per
reason (`anomalous`, `critical_label`).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import TypeVar

from services.core.events import Anomaly, Event, LogRecord, MetricPoint, Severity, Span

T = TypeVar("T")


class Priority(IntEnum):
    LOW = 0
    NORMAL = 1
    CRITICAL = 2


_CRITICAL_WORDS = {"critical", "high"}


class FiringSeries:
    """Series anomalous right now (`tenant/series`), kept current from anomaly events."""

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        self._firing: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._firing

    def __len__(self) -> int:
        return len(self._firing)

    def apply(self, anomaly: Anomaly) -> None:
        """Record a firing or resolved transition."""
        key = f"{anomaly.tenant}/{anomaly.series}"
        if anomaly.status == "firing":
            self._firing[key] = None
            self._firing.move_to_end(key)
            if len(self._firing) > self.max_series:
                self._firing.popitem(last=False)
        else:
            self._firing.pop(key, None)

    async def handle(self, event: Event) -> None:
        """Bus handler for the anomalies topic."""
        if isinstance(event, Anomaly):
            self.apply(event)


def _labelled(labels: dict[str, str]) -> Priority | None:
    word = labels.get("priority") or labels.get("vigil_priority")
    if word in _CRITICAL_WORDS or labels.get("severity") == "critical":
        return Priority.CRITICAL
    if word == "low":
        return Priority.LOW
    return None


def log_priority(record: LogRecord) -> Priority:
    """Errors are critical, warnings normal, the rest low (unless labelled)."""
    labelled = _labelled(record.attributes)
    if labelled is not None:
        return labelled
    if record.severity in (Severity.ERROR, Severity.CRITICAL):
        return Priority.CRITICAL
    return Priority.NORMAL if record.severity == Severity.WARNING else Priority.LOW


def span_priority(span: Span) -> Priority:
    """Failed spans are critical, the rest low (unless labelled)."""
    labelled = _labelled(span.attributes)
    if labelled is not None:
        return labelled
    return Priority.CRITICAL if span.error else Priority.LOW


class Shedder:
    """Decides, from the current load, which priorities still pass, and counts the rest."""

    def __init__(self, *, low_at: float, normal_at: float, firing: FiringSeries) -> None:
        self.low_at = low_at
        self.normal_at = max(low_at, normal_at)
        self.firing = firing

    def floor(self, load: float) -> Priority:
        """The lowest priority admitted at this load."""
        if load >= self.normal_at:
            return Priority.CRITICAL
        if load >= self.low_at:
            return Priority.NORMAL
        return Priority.LOW

    def metrics(
        self, points: Sequence[MetricPoint], keys: Sequence[str], floor: Priority
    ) -> tuple[list[MetricPoint], list[str], Counter[str], Counter[str]]:
        """Points that pass at `floor`, their keys, drops by priority, keeps by reason."""
        shed: Counter[str] = Counter()
        protected: Counter[str] = Counter()
        kept: list[MetricPoint] = []
        kept_keys: list[str] = []
        firing = self.firing
        for point, key in zip(points, keys, strict=True):
            labelled = _labelled(point.labels)
            if labelled == Priority.CRITICAL:
                protected["critical_label"] += 1
            elif key in firing:
                protected["anomalous"] += 1
            else:
                priority = Priority.NORMAL if labelled is None else labelled
                if priority < floor:
                    shed[priority.name.lower()] += 1
                    continue
            kept.append(point)
            kept_keys.append(key)
        return kept, kept_keys, shed, protected

    @staticmethod
    def others(
        items: Sequence[T], priority_of: Callable[[T], Priority], floor: Priority
    ) -> tuple[list[T], Counter[str]]:
        """Logs or spans that pass at `floor`, and the drops by priority."""
        shed: Counter[str] = Counter()
        kept: list[T] = []
        for item in items:
            priority = priority_of(item)
            if priority < floor:
                shed[priority.name.lower()] += 1
            else:
                kept.append(item)
        return kept, shed
