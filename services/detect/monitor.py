"""Per-series anomaly state: detectors plus a firing/resolved state machine. Pure domain logic.

`MetricsMonitor.observe(point)` feeds one point to its series' detector and returns the
anomaly events the point causes: `firing` when a series turns anomalous, `resolved` when it
has been normal again for a while. Anomaly ids are derived from the series and the timestamp,
so replaying the same points after a restart yields the same ids (and downstream dedup works).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from services.core.events import (
    Anomaly,
    DetectorParams,
    Explanation,
    MetricPoint,
    Severity,
    stable_id,
)
from services.detect.detectors import Assessment, SeriesDetector
from services.detect.detectors.ensemble import ONSET_FLOOR, make_detector
from services.detect.feedback.adaptation import Adaptation, Label
from services.detect.models.registry import ShadowStats

# Components whose anomalies sit inside the expected band by nature (a stuck value, a burst
# of variability around the expected level): they open an incident on score alone.
IN_BAND_COMPONENTS = frozenset({"flatline", "volatility"})

# Bump when SeriesState changes shape. Version 2 (before feedback and model versions) is
# still read: the fields added since get their defaults (`_upgraded`); others are refused.
CHECKPOINT_VERSION = 3
READABLE_CHECKPOINTS = frozenset({2, 3})


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
    # An "ongoing" point this strong (the detector's ongoing band is 0.8-0.85, in proportion
    # to its evidence; this is 90 % of full strength) outside the band also starts one: the
    # detector grants one onset per `hold` points, so a fault that follows a weak blip within
    # that time is scored as the blip's continuation, never as an onset of its own.
    escalation_threshold: float = 0.845
    sustain_threshold: float = 0.8
    fire_after: int = 2  # consecutive anomalous points before firing (one spike is noise)
    resolve_after: int = 5  # consecutive points back in the pre-fault band before resolving
    # A series still off its pre-fault band after this many points is accepted as having a
    # new normal (e.g. a deploy changed it for good) and resolves with that explanation.
    accept_new_normal_after: int = 2160
    band_margin: float = 0.25  # the pre-fault band is widened by this fraction of its width
    max_series: int = 100_000  # least recently seen series are evicted past this

    def with_params(self, params: DetectorParams) -> MonitorPolicy:
        """This policy with a detector configuration's thresholds (model management)."""
        return replace(
            self,
            fire_threshold=params.fire_threshold,
            band_fire_threshold=params.band_fire_threshold,
            sustain_threshold=params.sustain_threshold,
            fire_after=params.fire_after,
            resolve_after=params.resolve_after,
            band_margin=params.band_margin,
        )

    def params(self) -> DetectorParams:
        """The detector configuration part of this policy."""
        return DetectorParams(**{k: getattr(self, k) for k in DetectorParams.model_fields})


class _Track(Protocol):
    """The firing/resolved state machine's memory (the live one, or a shadow's)."""

    firing: bool
    streak: int
    baseline: tuple[float, float] | None
    firing_points: int


@dataclass
class ShadowTrack:
    """A shadow configuration's state machine for one series (same verdicts, no output)."""

    run: str
    firing: bool = False
    streak: int = 0
    baseline: tuple[float, float] | None = None
    firing_points: int = 0


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
    # Since checkpoint version 3: operator feedback, the detector version the series last ran
    # under, when it was last checkpointed (point time) and reported, and the shadow's track.
    adaptation: Adaptation = field(default_factory=Adaptation)
    version: int = 0
    checkpoint_at: float | None = None
    reported_at: float = float("-inf")
    shadow: ShadowTrack | None = None


_ADDED_IN_V3: dict[str, Callable[[], object]] = {
    "adaptation": Adaptation,
    "version": lambda: 0,
    "checkpoint_at": lambda: None,
    "reported_at": lambda: float("-inf"),
    "shadow": lambda: None,
}


def _upgraded(state: SeriesState) -> SeriesState:
    """A state read from an older checkpoint, with the fields added since at their defaults."""
    for name, default in _ADDED_IN_V3.items():
        if name not in state.__dict__:
            setattr(state, name, default())
    return state


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
        self.version = 0  # of the live detector configuration
        self.shadow_policy: MonitorPolicy | None = None
        self.shadow: ShadowStats | None = None
        self.feedback_applied = 0

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
        state.version = self.version
        failures_before = getattr(state.detector, "failures", 0)
        verdict = state.detector.assess(ts, point.value)
        if getattr(state.detector, "failures", 0) != failures_before:
            # The series' model broke and it now runs on the fallback detector.
            self.model_failures += 1
            self.last_model_failure = (key, getattr(state.detector, "last_error", ""))
        live = self._transition(state, self.policy, state, point, verdict)
        if self.shadow is not None and self.shadow_policy is not None:
            self._shadow(state, point, verdict, live)
        return live

    def _shadow(
        self, state: SeriesState, point: MetricPoint, verdict: Assessment, live: list[Anomaly]
    ) -> None:
        """Run the shadow configuration on the same verdict; record, never return, its output."""
        assert self.shadow is not None and self.shadow_policy is not None
        track = state.shadow
        if track is None or track.run != self.shadow.run:
            track = state.shadow = ShadowTrack(self.shadow.run)
        found = self._transition(track, self.shadow_policy, state, point, verdict, shadow=True)
        shadowed = [
            a.model_copy(
                update={
                    "id": stable_id("shadow", self.shadow.run, a.id),
                    "detector": f"shadow:{a.detector}",
                }
            )
            for a in found
        ]
        self.shadow.fired(live, shadowed)
        self.shadow.count(state.firing, track.firing)

    def learn(self, key: str, labels: Sequence[Label]) -> int:
        """Apply operator labels to a series (creating it if unknown); returns how many were new.

        Idempotent: a label already learned (by feedback id) is skipped.
        """
        if not labels:
            return 0
        state = self.series.get(key)
        if state is None:
            if all(not label.benign for label in labels):
                return 0  # nothing to make less sensitive on a series we have not met
            state = self._new_state(key)
        learned = sum(1 for label in labels if state.adaptation.learn(label))
        self.feedback_applied += learned
        return learned

    def pending_labels(self, key: str, labels: Sequence[Label]) -> list[Label]:
        """The labels a series has not learned yet (cheap: usually none)."""
        state = self.series.get(key)
        if state is None:
            return list(labels)
        applied = state.adaptation.applied
        return [label for label in labels if label.feedback_id not in applied]

    def set_live(self, version: int, params: DetectorParams) -> None:
        """Run a detector configuration live from the next point on (promotion, rollback)."""
        self.version = version
        self.policy = self.policy.with_params(params)

    def set_shadow(
        self, run: str | None, version: int = 0, params: DetectorParams | None = None
    ) -> None:
        """Start (or, with run None, stop) scoring a candidate configuration in shadow."""
        if run is None or params is None:
            self.shadow, self.shadow_policy = None, None
            return
        if self.shadow is not None and self.shadow.run == run:
            return
        self.shadow_policy = self.policy.with_params(params)
        self.shadow = ShadowStats(run, self.version, version)

    def _new_state(self, key: str) -> SeriesState:
        state = SeriesState(detector=self.detector_factory())
        self.series[key] = state
        while len(self.series) > self.policy.max_series:
            self.series.popitem(last=False)
            self.evicted += 1
        return state

    def _transition(
        self,
        track: _Track,
        policy: MonitorPolicy,
        state: SeriesState,
        point: MetricPoint,
        verdict: Assessment,
        *,
        shadow: bool = False,
    ) -> list[Anomaly]:
        if track.firing:
            return self._while_firing(track, policy, point, verdict)
        anomalous = verdict.warm and self._anomalous(
            track, policy, state.adaptation, verdict, point
        )
        if not anomalous:
            track.streak, track.baseline = 0, None
            return []
        if track.streak == 0:
            track.baseline = _widened(policy, verdict.lower, verdict.upper)
        track.streak += 1
        if track.streak < policy.fire_after:
            return []
        if self._benign(state.adaptation, point, verdict, shadow):
            track.streak, track.baseline = 0, None
            return []
        track.firing, track.streak, track.firing_points = True, 0, 0
        return [_anomaly(point, verdict, "firing")]

    @staticmethod
    def _benign(
        adaptation: Adaptation, point: MetricPoint, verdict: Assessment, shadow: bool
    ) -> bool:
        """Whether an onset matches a pattern operators labelled benign (see feedback/)."""
        if not adaptation.benign:
            return False
        ts, value = point.timestamp.timestamp(), point.value
        if shadow:  # the shadow asks without counting (the live track already did)
            return adaptation.is_benign(ts, value, verdict.lower, verdict.upper)
        return adaptation.benign_onset(ts, value, verdict.lower, verdict.upper)

    def _while_firing(
        self, track: _Track, policy: MonitorPolicy, point: MetricPoint, verdict: Assessment
    ) -> list[Anomaly]:
        track.firing_points += 1
        lower, upper = track.baseline or (verdict.lower, verdict.upper)
        recovered = lower <= point.value <= upper
        track.streak = track.streak + 1 if recovered else 0
        new_normal = track.firing_points >= policy.accept_new_normal_after
        if track.streak < policy.resolve_after and not new_normal:
            return []
        note = "" if recovered else "; accepted as the new normal"
        track.firing, track.streak, track.baseline = False, 0, None
        return [_anomaly(point, verdict, "resolved", note=note)]

    @staticmethod
    def _anomalous(
        track: _Track,
        policy: MonitorPolicy,
        adaptation: Adaptation,
        verdict: Assessment,
        point: MetricPoint,
    ) -> bool:
        value = point.value
        if track.streak:  # continuing: still scored anomalous, and still off the band
            off_band = track.baseline is None or not (
                track.baseline[0] <= value <= track.baseline[1]
            )
            in_band_kind = verdict.component in IN_BAND_COMPONENTS
            return verdict.score >= policy.sustain_threshold and (off_band or in_band_kind)
        lower, upper = adaptation.band(verdict.lower, verdict.expected, verdict.upper)
        outside = not lower <= value <= upper
        # A strong "ongoing" point outside the band: see `MonitorPolicy.escalation_threshold`.
        # Raised by learned feedback like the others; onsets are judged by the rules below.
        escalated = (
            outside
            and adaptation.threshold(policy.escalation_threshold) <= verdict.score < ONSET_FLOOR
        )
        if verdict.component in IN_BAND_COMPONENTS:
            return escalated or verdict.score >= adaptation.threshold(policy.fire_threshold)
        # Everything else must also leave its expected band (widened by what operators
        # labelled false positives): a new record or envelope inside the band is worth a
        # score, not an incident.
        return escalated or (
            outside and verdict.score >= adaptation.threshold(policy.band_fire_threshold)
        )

    # -- checkpoints -------------------------------------------------------------------------

    def snapshot(self, key: str) -> bytes | None:
        """Serialised state of one series (by partition key), or None if unknown."""
        state = self.series.get(key)
        if state is None:
            return None
        if state.last_timestamp > float("-inf"):
            state.checkpoint_at = state.last_timestamp
        return bytes([CHECKPOINT_VERSION]) + pickle.dumps(state, protocol=5)

    def restore(self, key: str, blob: bytes) -> bool:
        """Load a series' state from a snapshot; False if the snapshot is unusable."""
        if not blob or blob[0] not in READABLE_CHECKPOINTS:
            return False
        try:
            state = pickle.loads(blob[1:])  # noqa: S301 - written by our own workers only
        except Exception:  # noqa: BLE001 - a corrupt checkpoint means a cold start, not a crash
            return False
        if not isinstance(state, SeriesState):
            return False
        self.series[key] = _upgraded(state)
        return True

    def knows(self, key: str) -> bool:
        return key in self.series


def _widened(policy: MonitorPolicy, lower: float, upper: float) -> tuple[float, float]:
    margin = (upper - lower) * policy.band_margin
    return lower - margin, upper + margin


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
