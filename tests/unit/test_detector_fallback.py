"""A series whose model breaks keeps being scored, by the robust z-score, and the fault counts."""

from __future__ import annotations

import math
import pickle
import random

from services.detect.detectors import Assessment
from services.detect.detectors.ensemble import make_detector
from services.detect.detectors.fallback import FallbackDetector


class FlakyModel:
    """Scores 0.1 until its `breaks_at`-th point, then fails the way it was told to."""

    name = "flaky"

    def __init__(self, breaks_at: int, how: str) -> None:
        self.breaks_at = breaks_at
        self.how = how
        self.calls = 0

    def assess(self, timestamp: float, value: float) -> Assessment:
        self.calls += 1
        if self.calls >= self.breaks_at:
            if self.how == "raise":
                raise ZeroDivisionError("model bug")
            return Assessment(math.nan, value, value, value, "flaky")
        return Assessment(0.1, value, value - 1, value + 1, "flaky")


def _stream(detector: FallbackDetector, values: list[float]) -> list[Assessment]:
    return [detector.assess(60.0 * i, v) for i, v in enumerate(values)]


def _noise(n: int) -> list[float]:
    rng = random.Random(4)
    return [10.0 + rng.gauss(0, 0.5) for _ in range(n)]


def test_a_raising_model_falls_back_counts_once_and_the_stream_goes_on() -> None:
    detector = FallbackDetector(FlakyModel(breaks_at=50, how="raise"))
    verdicts = _stream(detector, _noise(200))
    assert [v.component for v in verdicts[:49]] == ["flaky"] * 49
    assert {v.component for v in verdicts[49:]} == {"robust_zscore"}
    assert detector.failures == 1
    assert detector.failed
    assert "ZeroDivisionError" in detector.last_error
    assert detector.name == "robust_zscore"


def test_a_nan_score_counts_as_a_failure() -> None:
    detector = FallbackDetector(FlakyModel(breaks_at=10, how="nan"))
    verdicts = _stream(detector, _noise(40))
    assert detector.failures == 1
    assert all(math.isfinite(v.score) for v in verdicts)
    assert verdicts[9].component == "robust_zscore"


def test_the_fallback_is_already_warm_when_it_takes_over() -> None:
    detector = FallbackDetector(FlakyModel(breaks_at=301, how="raise"))
    values = _noise(310)
    values[305] = 30.0  # forty standard deviations, five points after the failure
    verdicts = _stream(detector, values)
    assert verdicts[300].warm
    assert verdicts[305].score > 0.9
    assert max(v.score for v in verdicts[300:305]) < 0.8


def test_a_missing_value_does_not_poison_the_fallback() -> None:
    detector = FallbackDetector(FlakyModel(breaks_at=5, how="raise"))
    _stream(detector, _noise(100))
    assert detector.assess(6000.0, math.nan).score == 0.0
    assert detector.assess(6060.0, 10.0).score < 0.5


def test_the_production_ensemble_falls_back_when_its_state_is_corrupted() -> None:
    detector = make_detector()
    assert isinstance(detector, FallbackDetector)
    values = _noise(300)
    _stream(detector, values[:200])
    detector.primary.forecaster = None  # type: ignore[union-attr]  # a bug, simulated
    after = [detector.assess(60.0 * i, v) for i, v in enumerate(values[200:], start=200)]
    assert detector.failures == 1
    assert all(v.component == "robust_zscore" and math.isfinite(v.score) for v in after)


def test_a_fallen_back_detector_survives_a_checkpoint() -> None:
    detector = FallbackDetector(FlakyModel(breaks_at=20, how="raise"))
    _stream(detector, _noise(50))
    restored = pickle.loads(pickle.dumps(detector, protocol=5))
    assert restored.failures == 1 and restored.failed
    assert restored.assess(3000.0, 10.0) == detector.assess(3000.0, 10.0)
