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
from services.detect.detectors import Assessment, SeriesDetector
from services.detect.detectors.ensemble import make_detector

# Components whose anomalies sit inside the expected band by nature (a stuck value, a burst
# of variability around the expected level): they open an incident on score alone.
IN_BAND_COMPONENTS = frozenset({"flatline", "volatility"})

CHECKPOINT_VERSION = 2  # bump when SeriesState changes shape: old ones are refused


@dataclass(frozen=True)
class MonitorPolicy:
    """When a series starts and stops being anomalous."""

    # A series starts firing on a point scoring at least `fire_threshold` (the detector's
    # onsets score 0.85-1, in proportion to their evidence; on plain noise they stay below
    # 0.9, while real faults of a few sigma reach 1), followed by points that stay at or
    # above `sustain_threshold` (the detector's "still anomalous" band starts at 0.8).
    fire_threshold: float = 0.92
    # A weaker onset also starts an anomaly when the value lies outside its expected band
    # (young series, where only the likelihood speaks, score strong spikes near 0.85-0.9).
    band_fire_threshold: float = 0.85
    sustain_threshold: float = 0.8
    fire_after: int = 2  # consecutive anomalous points before firing (one spike is noise)
    resolve_after: int = 5  # consecutive points back in the pre-fault band before resolving
    # A series still off its pre-fault band after this many points is accepted as having a
    # new normal (e.g. a deploy changed it for good) and resolves with that explanation.
    accept_new_normal_after: int = 2160
    band_margin: float = 0.25  # the pre-fault band is widened by this fraction of its width
    max_series: int = 100_000  # least recently seen series are evicted past this


@dataclass
class SeriesState:
    """Everything remembered about one series."""

    detector: SeriesDetector
    firing: bool = False
    streak: int = 0  # consecutive points disagreeing with the current state
    last_timestamp: float = float("-inf")
    points: int = 0
    # The expected band when the anomaly began: recovery means returning to it, because
    # online detectors absorb a lasting fault as their new normal within a few dozen points.
    baseline: tuple[float, float] | None = None
    firing_points: int = 0


def _default_detector() -> SeriesDetector:
    return make_detector()


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
        self.model_failures = 0
        self.last_model_failure: tuple[str, str] | None = None

    def observe(self, point: MetricPoint, key: str | None = None) -> list[Anomaly]:
        """Feed one point; return the anomaly transitions it causes (usually none).

        `key` is the point's partition key when the caller already computed it.
        """
        key = key if key is not None else point.partition_key()
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
        failures_before = getattr(state.detector, "failures", 0)
        verdict = state.detector.assess(ts, point.value)
        if getattr(state.detector, "failures", 0) != failures_before:
            # The series' model broke and it now runs on the fallback detector.
            self.model_failures += 1
            self.last_model_failure = (key, getattr(state.detector, "last_error", ""))
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
        if state.firing:
            return self._while_firing(state, point, verdict)
        if not (verdict.warm and self._anomalous(verdict, point.value, state)):
            state.streak, state.baseline = 0, None
            return []
        if state.streak == 0:
            state.baseline = self._widened(verdict.lower, verdict.upper)
        state.streak += 1
        if state.streak < self.policy.fire_after:
            return []
        state.firing, state.streak, state.firing_points = True, 0, 0
        return [_anomaly(point, verdict, "firing")]

    def _while_firing(
        self, state: SeriesState, point: MetricPoint, verdict: Assessment
    ) -> list[Anomaly]:
        state.firing_points += 1
        lower, upper = state.baseline or (verdict.lower, verdict.upper)
        recovered = lower <= point.value <= upper
        state.streak = state.streak + 1 if recovered else 0
        new_normal = state.firing_points >= self.policy.accept_new_normal_after
        if state.streak < self.policy.resolve_after and not new_normal:
            return []
        note = "" if recovered else "; accepted as the new normal"
        state.firing, state.streak, state.baseline = False, 0, None
        return [_anomaly(point, verdict, "resolved", note=note)]

    def _anomalous(self, verdict: Assessment, value: float, state: SeriesState) -> bool:
        policy = self.policy
        if state.streak:  # continuing: still scored anomalous, and still off the band
            off_band = state.baseline is None or not (
                state.baseline[0] <= value <= state.baseline[1]
            )
            in_band_kind = verdict.component in IN_BAND_COMPONENTS
            return verdict.score >= policy.sustain_threshold and (off_band or in_band_kind)
        if verdict.component in IN_BAND_COMPONENTS:
            return verdict.score >= policy.fire_threshold
        # Everything else must also leave its expected band: a new record or envelope inside
        # the band is worth a score, not an incident.
        outside = not verdict.lower <= value <= verdict.upper
        return outside and verdict.score >= policy.band_fire_threshold

    def _widened(self, lower: float, upper: float) -> tuple[float, float]:
        margin = (upper - lower) * self.policy.band_margin
        return lower - margin, upper + margin

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


def _severity(verdict: Assessment, value: float) -> Severity:
    """How bad: the detector's confidence, or how many band half-widths the value is off."""
    half_width = (verdict.upper - verdict.lower) / 2
    off = abs(value - verdict.expected) / half_width if half_width > 0 else 0.0
    if verdict.score >= 0.95 or off >= 4:
        return Severity.CRITICAL
    if verdict.score >= 0.9 or off >= 2:
        return Severity.ERROR
    return Severity.WARNING


def _anomaly(point: MetricPoint, verdict: Assessment, status: str, note: str = "") -> Anomaly:
    direction = "above" if point.value > verdict.expected else "below"
    detail = (
        f"{point.name} = {point.value:.4g}, {direction} the expected "
        f"{verdict.expected:.4g} (band {verdict.lower:.4g} .. {verdict.upper:.4g}){note}"
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
        severity=_severity(verdict, point.value),
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
