"""Every series label the detectors were told about, until their series learns it. Pure.

Feedback reaches every detect worker (docs/learning.md: broadcast), but only the worker that
owns a series holds its state. The ledger keeps each series' labels so the owner applies them
on the series' next point, now or after a rebalance or restart; applying is idempotent (the
series' checkpoint remembers the feedback ids it learned).
"""

from __future__ import annotations

from collections import OrderedDict

from services.core.events import Feedback, FeedbackLabel, FeedbackSignal
from services.detect.feedback.adaptation import Label

MAX_LABELS_PER_SERIES = 32


def labels_of(feedback: Feedback) -> list[tuple[str, Label]]:
    """(series partition key, label) for every metric signal of a true/false positive label.

    Wrong-grouping and root-cause labels concern correlation, not the series' detector.
    """
    if feedback.label not in (FeedbackLabel.FALSE_POSITIVE, FeedbackLabel.TRUE_POSITIVE):
        return []
    benign = feedback.label is FeedbackLabel.FALSE_POSITIVE
    return [
        (f"{signal.tenant}/{signal.series}", _label(feedback.id, benign, signal))
        for signal in feedback.signals
        if signal.kind == "metric"
    ]


def _label(feedback_id: str, benign: bool, signal: FeedbackSignal) -> Label:
    fired = signal.fired_at.timestamp()
    duration = signal.resolved_at.timestamp() - fired if signal.resolved_at else None
    return Label(
        feedback_id=feedback_id,
        benign=benign,
        fired_at=fired,
        duration_s=duration if duration is None or duration >= 0 else None,
        observed=signal.observed,
        lower=signal.lower,
        upper=signal.upper,
    )


class FeedbackLedger:
    """Labels by series partition key, bounded (least recently labelled series go first)."""

    def __init__(self, max_series: int = 100_000) -> None:
        self.max_series = max_series
        self.labels: OrderedDict[str, list[Label]] = OrderedDict()
        self.received = 0

    def add(self, feedback: Feedback) -> int:
        """Record a feedback event; returns how many series labels it carried."""
        found = labels_of(feedback)
        for key, label in found:
            held = self.labels.pop(key, [])
            if all(h.feedback_id != label.feedback_id for h in held):
                held = [*held, label][-MAX_LABELS_PER_SERIES:]
            self.labels[key] = held
            while len(self.labels) > self.max_series:
                self.labels.popitem(last=False)
        self.received += 1
        return len(found)

    def for_series(self, key: str) -> list[Label]:
        """The labels of one series, oldest first (empty for most series)."""
        return self.labels.get(key, [])
