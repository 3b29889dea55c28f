"""What one series learned from operator labels. Pure domain logic.

A false positive makes the series less sensitive, by a bounded amount: its onset thresholds
rise by `THRESHOLD_STEP` (at most `MAX_THRESHOLD_OFFSET`) and the band a point must leave to
start an anomaly widens around the expected value by `BAND_STEP` (at most `MAX_BAND_SCALE`).
It also remembers the labelled episode as a benign pattern: the same direction, around the
same time of day, no further off the band than `BENIGN_EXCESS_FACTOR` times the labelled one.
An onset matching a benign pattern is suppressed (counted, not fired) for at most the
pattern's duration; a larger excursion, one at another time of day, or one in the other
direction still fires, so real anomalies are not lost. A true positive restores one step of
sensitivity and forgets the benign patterns its own episode would have matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

THRESHOLD_STEP = 0.02
MAX_THRESHOLD_OFFSET = 0.06
BAND_STEP = 1.25
MAX_BAND_SCALE = 2.0
DAY_S = 86_400.0
TIME_OF_DAY_TOLERANCE_S = 900.0  # a nightly job drifts by minutes, not hours
BENIGN_EXCESS_FACTOR = 2.0  # twice as far off the band as the labelled episode is not benign
MIN_BENIGN_S = 300.0  # suppress at least this long after a matching onset
MAX_BENIGN_S = 3_600.0  # and never longer: a lasting excursion is a fault, whatever the hour
MAX_PATTERNS = 8
MAX_REMEMBERED_IDS = 64


@dataclass(frozen=True)
class Label:
    """One operator label on one series' episode (from a `FeedbackSignal`)."""

    feedback_id: str
    benign: bool  # False: a true positive
    fired_at: float  # unix seconds of the firing point
    duration_s: float | None = None  # firing to resolved, when known
    observed: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class BenignPattern:
    """A labelled benign episode, to recognise its next occurrence."""

    feedback_id: str
    direction: int  # +1 above the band, -1 below, 0 unknown (either)
    second_of_day: float
    excess: float  # how far off the band the firing point was, in band widths
    duration_s: float

    def matches(self, timestamp: float, direction: int, excess: float) -> bool:
        """Whether an onset at `timestamp`, `excess` band widths off, looks like this one."""
        if self.direction and direction != self.direction:
            return False
        gap = abs(timestamp % DAY_S - self.second_of_day)
        if min(gap, DAY_S - gap) > TIME_OF_DAY_TOLERANCE_S:
            return False
        return excess <= max(self.excess * BENIGN_EXCESS_FACTOR, self.excess + 0.5)


def off_band(value: float, lower: float, upper: float) -> tuple[int, float]:
    """(direction, distance beyond the band in band widths) of `value`; (0, 0) inside it."""
    width = max(upper - lower, 1e-12)
    if value > upper:
        return 1, (value - upper) / width
    if value < lower:
        return -1, (lower - value) / width
    return 0, 0.0


@dataclass
class Adaptation:
    """A series' learned sensitivity and benign patterns; checkpointed with the series."""

    band_scale: float = 1.0
    threshold_offset: float = 0.0
    benign: list[BenignPattern] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)  # feedback ids already learned
    false_positives: int = 0
    true_positives: int = 0
    suppressed: int = 0
    suppress_until: float = float("-inf")  # end of the benign episode being suppressed
    active: BenignPattern | None = None  # the pattern of that episode

    @property
    def neutral(self) -> bool:
        """Whether nothing was learned (the series behaves exactly as without feedback)."""
        return not self.applied

    def learn(self, label: Label) -> bool:
        """Apply a label once (by feedback id); False if it was already applied."""
        if label.feedback_id in self.applied:
            return False
        self.applied = [*self.applied, label.feedback_id][-MAX_REMEMBERED_IDS:]
        if label.benign:
            self._less_sensitive(label)
        else:
            self._more_sensitive(label)
        return True

    def _less_sensitive(self, label: Label) -> None:
        self.false_positives += 1
        self.threshold_offset = min(MAX_THRESHOLD_OFFSET, self.threshold_offset + THRESHOLD_STEP)
        self.band_scale = min(MAX_BAND_SCALE, self.band_scale * BAND_STEP)
        direction, excess = 0, 0.0
        if None not in (label.observed, label.lower, label.upper):
            assert label.observed is not None and label.lower is not None
            assert label.upper is not None
            direction, excess = off_band(label.observed, label.lower, label.upper)
        duration = min(MAX_BENIGN_S, max(MIN_BENIGN_S, 2 * (label.duration_s or 0.0)))
        pattern = BenignPattern(
            label.feedback_id, direction, label.fired_at % DAY_S, excess, duration
        )
        self.benign = [*self.benign, pattern][-MAX_PATTERNS:]

    def _more_sensitive(self, label: Label) -> None:
        self.true_positives += 1
        self.threshold_offset = max(0.0, self.threshold_offset - THRESHOLD_STEP)
        self.band_scale = max(1.0, self.band_scale / BAND_STEP)
        if None not in (label.observed, label.lower, label.upper):
            assert label.observed is not None and label.lower is not None
            assert label.upper is not None
            direction, excess = off_band(label.observed, label.lower, label.upper)
            self.benign = [
                p for p in self.benign if not p.matches(label.fired_at, direction, excess)
            ]
        self.suppress_until, self.active = float("-inf"), None

    def threshold(self, base: float) -> float:
        """An onset threshold raised by what the series learned (never above 0.99)."""
        return min(0.99, base + self.threshold_offset) if self.threshold_offset else base

    def band(self, lower: float, expected: float, upper: float) -> tuple[float, float]:
        """The band an onset must leave, widened around `expected` by the learned scale."""
        if self.band_scale == 1.0:
            return lower, upper
        return (
            expected - (expected - lower) * self.band_scale,
            expected + (upper - expected) * self.band_scale,
        )

    def benign_onset(self, timestamp: float, value: float, lower: float, upper: float) -> bool:
        """Whether an onset is (still) a known benign episode; counts what it suppresses.

        Within a suppressed episode, time of day no longer matters but size still does: a
        fault growing out of a benign bump fires once it is larger than the bump ever was.
        """
        direction, excess = off_band(value, lower, upper)
        active = self.active
        if active is not None and timestamp <= self.suppress_until:
            if active.matches(active.second_of_day, direction, excess):
                self.suppressed += 1
                return True
            return False
        for pattern in self.benign:
            if pattern.matches(timestamp, direction, excess):
                self.active, self.suppress_until = pattern, timestamp + pattern.duration_s
                self.suppressed += 1
                return True
        return False

    def is_benign(self, timestamp: float, value: float, lower: float, upper: float) -> bool:
        """`benign_onset` without counting or starting an episode (for a shadow's question)."""
        direction, excess = off_band(value, lower, upper)
        active = self.active
        if active is not None and timestamp <= self.suppress_until:
            return active.matches(active.second_of_day, direction, excess)
        return any(p.matches(timestamp, direction, excess) for p in self.benign)

    def describe(self) -> dict[str, object]:
        """The adaptation as plain data (model records, API)."""
        return {
            "band_scale": round(self.band_scale, 4),
            "threshold_offset": round(self.threshold_offset, 4),
            "benign_patterns": len(self.benign),
            "false_positives": self.false_positives,
            "true_positives": self.true_positives,
            "suppressed": self.suppressed,
        }
