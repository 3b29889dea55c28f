"""Per-series anomaly state: detectors plus a firing/resolved state machine. Pure domain logic.

`MetricsMonitor.observe(point)` feeds one point to its series' detector and returns the
anomaly events the point causes: `firing` when a series turns anomalous, `resolved` when it
has been normal again for a while. Anomaly ids are derived from the series and the timestamp,
so replaying the same points after a restart yields the same ids (and downstream dedup works).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from services.core.events import Anomaly, Explanation, MetricPoint, Severity, stable_id
from services.detect.detectors import Assessment, RobustZScore, SeriesDetector

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class MonitorPolicy:
    """When a series starts and stops being anomalous."""

    fire_threshold: float = 0.8
    fire_after: int = 2  # consecutive anomalous points before firing (one spike is noise)
    resolve_after: int = 5  # consecutive normal points before resolving
    max_series: int = 100_000  # least recently seen series are evicted past this


@dataclass
class SeriesState:
    """Everything remembered about one series."""

    detector: SeriesDetector
    firing: bool = False
    streak: int = 0  # consecutive points disagreeing with the current state
    last_timestamp: float = float("-inf")
    points: int = 0


def _default_detector() -> SeriesDetector:
    return RobustZScore()


class MetricsMonitor:
    """Detectors for many series, with bounded memory and checkpointable state."""

    def __init__(
        self,
        policy: MonitorPolicy | None = None,
        detector_factory: Callable[[], SeriesDetector] = _default_detector,
    ) -> None:
        self.policy = policy or MonitorPolicy()
        self.detector_factory = detector_factory
        self.series: OrderedDict[str, SeriesState] = OrderedDict()
        self.out_of_order = 0
        self.evicted = 0

    def observe(self, point: MetricPoint) -> list[Anomaly]:
        """Feed one point; return the anomaly transitions it causes (usually none)."""
        key = point.partition_key()
        state = self.series.get(key)
        if state is None:
            state = self._new_state(key)
        else:
            self.series.move_to_end(key)
        ts = point.timestamp.timestamp()
        if ts <= state.last_timestamp:
            self.out_of_order += 1  # late or duplicate point: learning it twice would skew
            return []
        state.last_timestamp = ts
        state.points += 1
        verdict = state.detector.assess(ts, point.value)
        return self._transition(state, point, verdict)

    def _new_state(self, key: str) -> SeriesState:
        state = SeriesState(detector=self.detector_factory())
        self.series[key] = state
        while len(self.series) > self.policy.max_series:
            self.series.popitem(last=False)
            self.evicted += 1
        return state

    def _transition(
        self, state: SeriesState, point: MetricPoint, verdict: Assessment
    ) -> list[Anomaly]:
        anomalous = verdict.warm and verdict.score >= self.policy.fire_threshold
        if anomalous == state.firing:
            state.streak = 0
            return []
        state.streak += 1
        needed = self.policy.resolve_after if state.firing else self.policy.fire_after
        if state.streak < needed:
            return []
        state.firing, state.streak = not state.firing, 0
        return [_anomaly(point, verdict, "firing" if state.firing else "resolved")]

    # -- checkpoints -------------------------------------------------------------------------

    def snapshot(self, key: str) -> bytes | None:
        """Serialised state of one series (by partition key), or None if unknown."""
        state = self.series.get(key)
        if state is None:
            return None
        return bytes([CHECKPOINT_VERSION]) + pickle.dumps(state, protocol=5)

    def restore(self, key: str, blob: bytes) -> bool:
        """Load a series' state from a snapshot; False if the snapshot is unusable."""
        if not blob or blob[0] != CHECKPOINT_VERSION:
            return False
        try:
            state = pickle.loads(blob[1:])  # noqa: S301 - written by our own workers only
        except Exception:  # noqa: BLE001 - a corrupt checkpoint means a cold start, not a crash
            return False
        if not isinstance(state, SeriesState):
            return False
        self.series[key] = state
        return True

    def knows(self, key: str) -> bool:
        return key in self.series


def _severity(score: float) -> Severity:
    if score >= 0.95:
        return Severity.CRITICAL
    if score >= 0.9:
        return Severity.ERROR
    return Severity.WARNING


def _anomaly(point: MetricPoint, verdict: Assessment, status: str) -> Anomaly:
    direction = "above" if point.value > verdict.expected else "below"
    detail = (
        f"{point.name} = {point.value:.4g}, {direction} the expected "
        f"{verdict.expected:.4g} (band {verdict.lower:.4g} .. {verdict.upper:.4g})"
    )
    return Anomaly(
        id=stable_id("anomaly", point.tenant, point.series, status, point.timestamp.isoformat()),
        status="firing" if status == "firing" else "resolved",
        series=point.series,
        metric=point.name,
        service=point.service,
        labels=point.labels,
        timestamp=point.timestamp,
        score=min(1.0, max(0.0, verdict.score)),
        severity=_severity(verdict.score),
        detector=verdict.component,
        explanation=Explanation(
            observed=point.value,
            expected=verdict.expected,
            lower=verdict.lower,
            upper=verdict.upper,
            component=verdict.component,
            detail=detail,
        ),
        tenant=point.tenant,
    )
