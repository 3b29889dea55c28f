"""Operator feedback adapts the metrics detectors: sensitivity, benign patterns, checkpoints."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta

from services.core.events import (
    Anomaly,
    Feedback,
    FeedbackLabel,
    FeedbackSignal,
    MetricPoint,
)
from services.detect.feedback.adaptation import (
    MAX_BAND_SCALE,
    MAX_THRESHOLD_OFFSET,
    Adaptation,
    Label,
)
from services.detect.feedback.ledger import FeedbackLedger, labels_of
from services.detect.monitor import MetricsMonitor, SeriesState

START = datetime(2026, 1, 1, tzinfo=UTC)
KEY = 'default/cpu{service="a"}'


def _stream(
    monitor: MetricsMonitor,
    spikes: list[tuple[int, int, float]],
    *,
    seed: int = 1,
    n: int = 600,
    day: int = 0,
) -> list[Anomaly]:
    """A noisy series every 10 s from midnight of `day`, with (start, length, size) spikes."""
    rng = random.Random(seed)
    found: list[Anomaly] = []
    base = START + timedelta(days=day)
    for i in range(n):
        value = 100 + rng.gauss(0, 1)
        for at, length, size in spikes:
            if at <= i < at + length:
                value += size
        point = MetricPoint(
            name="cpu",
            labels={"service": "a"},
            value=value,
            timestamp=base + timedelta(seconds=10 * i),
        )
        found += monitor.observe(point)
    return found


def _firing(anomalies: list[Anomaly]) -> list[Anomaly]:
    return [a for a in anomalies if a.status == "firing"]


def _feedback(anomalies: list[Anomaly], label: FeedbackLabel, feedback_id: str = "fb1") -> Feedback:
    """What the api sends for an incident holding these anomalies."""
    fired = _firing(anomalies)[0]
    resolved = next((a for a in anomalies if a.status == "resolved"), None)
    assert fired.explanation is not None
    return Feedback(
        id=feedback_id,
        incident_id="inc",
        label=label,
        author="alice",
        signals=[
            FeedbackSignal(
                series=fired.series,
                tenant=fired.tenant,
                service=fired.service,
                fired_at=fired.timestamp,
                resolved_at=resolved.timestamp if resolved else None,
                observed=fired.explanation.observed,
                expected=fired.explanation.expected,
                lower=fired.explanation.lower,
                upper=fired.explanation.upper,
            )
        ],
    )


def _learned(feedback: list[Feedback]) -> MetricsMonitor:
    """A fresh monitor that learned the feedback, as a restarted worker does from its ledger."""
    ledger = FeedbackLedger()
    for event in feedback:
        ledger.add(event)
    monitor = MetricsMonitor()
    for key, labels in ledger.labels.items():
        monitor.learn(key, labels)
    return monitor


def test_a_benign_spike_labelled_false_positive_is_suppressed_the_next_night() -> None:
    first = _stream(MetricsMonitor(), [(300, 12, 12)])
    assert len(_firing(first)) == 1
    monitor = _learned([_feedback(first, FeedbackLabel.FALSE_POSITIVE)])
    again = _stream(monitor, [(302, 12, 12)], seed=2, day=1)
    assert _firing(again) == []
    assert monitor.series[KEY].adaptation.suppressed >= 1


def test_a_much_larger_excursion_at_the_benign_hour_still_fires() -> None:
    first = _stream(MetricsMonitor(), [(300, 12, 12)])
    monitor = _learned([_feedback(first, FeedbackLabel.FALSE_POSITIVE)])
    again = _stream(monitor, [(300, 30, 60)], seed=2, day=1)
    assert len(_firing(again)) == 1


def test_the_same_spike_at_another_hour_still_fires() -> None:
    first = _stream(MetricsMonitor(), [(300, 12, 12)])
    monitor = _learned([_feedback(first, FeedbackLabel.FALSE_POSITIVE)])
    again = _stream(monitor, [(480, 12, 20)], seed=2, day=1)  # 30 minutes later
    assert len(_firing(again)) == 1


def test_a_true_positive_label_keeps_the_series_alerting() -> None:
    first = _stream(MetricsMonitor(), [(300, 12, 12)])
    monitor = _learned([_feedback(first, FeedbackLabel.TRUE_POSITIVE)])
    assert _firing(_stream(monitor, [(302, 12, 12)], seed=2, day=1))
    adaptation = monitor.series[KEY].adaptation
    assert adaptation.band_scale == 1.0 and adaptation.threshold_offset == 0.0
    # A series we have not met is not created for a true positive: it changes nothing yet.
    assert monitor.learn("default/unseen", [Label("tp", False, fired_at=0.0)]) == 0
    assert "default/unseen" not in monitor.series


def test_a_true_positive_after_a_false_one_forgets_the_benign_pattern() -> None:
    first = _stream(MetricsMonitor(), [(300, 12, 12)])
    benign = _feedback(first, FeedbackLabel.FALSE_POSITIVE, "fb1")
    real = _feedback(first, FeedbackLabel.TRUE_POSITIVE, "fb2")
    monitor = _learned([benign, real])
    state = monitor.series[KEY]
    assert state.adaptation.benign == []
    assert state.adaptation.band_scale == 1.0 and state.adaptation.threshold_offset == 0.0
    assert _firing(_stream(monitor, [(302, 12, 12)], seed=2, day=1))


def test_false_positives_make_a_series_less_sensitive_by_a_bounded_amount() -> None:
    adaptation = Adaptation()
    for n in range(20):
        adaptation.learn(Label(f"fp{n}", True, fired_at=float(n * 3600)))
    assert adaptation.band_scale == MAX_BAND_SCALE
    assert adaptation.threshold_offset == MAX_THRESHOLD_OFFSET
    assert adaptation.threshold(0.92) == min(0.99, 0.92 + MAX_THRESHOLD_OFFSET)
    lower, upper = adaptation.band(90.0, 100.0, 110.0)
    assert (lower, upper) == (100 - 10 * MAX_BAND_SCALE, 100 + 10 * MAX_BAND_SCALE)
    assert len(adaptation.benign) <= 8


def test_the_same_feedback_is_learned_once() -> None:
    adaptation = Adaptation()
    label = Label("fb", True, fired_at=0.0)
    assert adaptation.learn(label) is True
    assert adaptation.learn(label) is False
    assert adaptation.false_positives == 1


def test_only_true_and_false_positive_labels_of_metric_signals_reach_series() -> None:
    signal = FeedbackSignal(series='cpu{service="a"}', fired_at=START)
    log_signal = FeedbackSignal(kind="log", series="log:a:new:t1", fired_at=START)
    for label, expected in (
        (FeedbackLabel.FALSE_POSITIVE, 1),
        (FeedbackLabel.TRUE_POSITIVE, 1),
        (FeedbackLabel.WRONG_GROUPING, 0),
        (FeedbackLabel.ROOT_CAUSE, 0),
    ):
        event = Feedback(incident_id="i", label=label, author="a", signals=[signal, log_signal])
        found = labels_of(event)
        assert len(found) == expected
        assert all(key == KEY for key, _ in found)


def test_an_old_event_without_signals_changes_nothing() -> None:
    ledger = FeedbackLedger()
    assert (
        ledger.add(Feedback(incident_id="i", label=FeedbackLabel.FALSE_POSITIVE, author="a")) == 0
    )
    assert ledger.labels == {}


def test_what_a_series_learned_survives_its_checkpoint() -> None:
    first = _stream(MetricsMonitor(), [(300, 12, 12)])
    monitor = _learned([_feedback(first, FeedbackLabel.FALSE_POSITIVE)])
    _stream(monitor, [], n=200, day=1)
    blob = monitor.snapshot(KEY)
    assert blob is not None
    restored = MetricsMonitor()
    assert restored.restore(KEY, blob)
    adaptation = restored.series[KEY].adaptation
    assert adaptation.false_positives == 1 and adaptation.applied == ["fb1"]
    assert restored.series[KEY].checkpoint_at is not None


def test_a_version_2_checkpoint_is_still_read_with_neutral_feedback() -> None:
    monitor = MetricsMonitor()
    _stream(monitor, [], n=150)
    state = monitor.series[KEY]
    # Exactly what a version-2 worker pickled: the fields of SeriesState before version 3.
    old = SeriesState.__new__(SeriesState)
    old.__dict__.update(
        {
            k: state.__dict__[k]
            for k in (
                "detector",
                "firing",
                "streak",
                "last_timestamp",
                "points",
                "baseline",
                "firing_points",
            )
        }
    )
    blob = bytes([2]) + pickle.dumps(old, protocol=5)
    restored = MetricsMonitor()
    assert restored.restore(KEY, blob)
    series = restored.series[KEY]
    assert series.adaptation.neutral and series.version == 0 and series.shadow is None
    assert series.points == 150
    # It keeps working: the next points are scored by the restored detector.
    _stream(restored, [], n=160)
    assert restored.series[KEY].points == 160


def test_an_unknown_checkpoint_version_is_refused() -> None:
    monitor = MetricsMonitor()
    _stream(monitor, [], n=10)
    blob = monitor.snapshot(KEY)
    assert blob is not None
    assert not MetricsMonitor().restore(KEY, bytes([1]) + blob[1:])
    assert not MetricsMonitor().restore(KEY, bytes([99]) + blob[1:])
