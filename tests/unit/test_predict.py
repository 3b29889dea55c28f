"""Failure prediction and resource-exhaustion forecasts (pure), and their Prometheus gauges."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from benchmarks.scenarios.slowburn import SlowBurn, slowburn_run, telemetry
from services.core.events import (
    Anomaly,
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    MetricPoint,
    Prediction,
    Severity,
)
from services.detect.forecast.seasonal import ForecastPolicy
from services.detect.predict.engine import Intelligence, IntelligencePolicy
from services.detect.predict.exhaustion import ExhaustionForecaster, ExhaustionPolicy
from services.detect.predict.failure import (
    BinningCalibrator,
    FailurePolicy,
    ServiceFailureModel,
    features,
)
from services.detect.predict.metrics import IntelligenceCollector
from services.detect.predict.trend import TrendFit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_trend_fit_follows_the_recent_slope_and_forgets_the_old_one() -> None:
    fit = TrendFit(half_life_s=300)
    for t in range(0, 3600, 10):
        fit.learn_one(t, 100.0)  # flat for an hour
    for t in range(3600, 5400, 10):
        fit.learn_one(t, 100.0 + (t - 3600) * 0.5)  # then +0.5 per second
    assert fit.slope == pytest.approx(0.5, rel=0.1)  # the flat hour still weighs a little
    assert fit.level() == pytest.approx(100 + 1790 * 0.5, rel=0.03)
    before = fit.slope
    fit.learn_one(100, 0.0)  # out of order: ignored
    assert fit.slope == before


def test_exhaustion_of_a_steady_leak_is_near_certain_with_the_right_time() -> None:
    f = ExhaustionForecaster(ExhaustionPolicy(horizon_s=3600))
    for t in range(0, 1800, 30):
        f.learn_one(t, 1000.0 + t * 0.2 + (5 if (t // 30) % 2 else -5))  # +0.2/s, noisy
    e = f.forecast(limit=2000.0)
    assert e is not None and e.seconds_to_limit is not None
    assert e.seconds_to_limit == pytest.approx((2000 - 1354) / 0.2, rel=0.05)
    assert e.probability > 0.95


def test_exhaustion_beyond_the_horizon_or_of_a_flat_series_is_unlikely() -> None:
    slow = ExhaustionForecaster(ExhaustionPolicy(horizon_s=600))
    flat = ExhaustionForecaster()
    for t in range(0, 1800, 30):
        slow.learn_one(t, 1000.0 + t * 0.2)
        flat.learn_one(t, 1500.0 + (3 if (t // 30) % 2 else -3))
    far = slow.forecast(limit=2000.0)
    assert far is not None and far.probability < 0.01  # ~3200 s away, horizon 600 s
    level = flat.forecast(limit=2000.0)
    assert (
        level is not None
        and level.probability < 0.01
        and level.saturation == pytest.approx(0.75, rel=1e-3)
    )


def test_a_climb_that_levels_off_stops_predicting_exhaustion() -> None:
    f = ExhaustionForecaster(ExhaustionPolicy(horizon_s=3600))
    for t in range(0, 7200, 30):
        f.learn_one(t, 1000.0 + 700 * (1 - math.exp(-t / 600)))  # cache warm-up to 1700
    e = f.forecast(limit=2000.0)
    assert e is not None and e.probability < 0.05


def test_no_forecast_before_enough_points() -> None:
    f = ExhaustionForecaster(ExhaustionPolicy(min_points=12))
    for t in range(0, 300, 30):
        f.learn_one(t, 1000.0 + t)
    assert f.forecast(limit=2000.0) is None


def test_labels_arrive_late_through_the_delay_buffer() -> None:
    model = ServiceFailureModel(FailurePolicy(horizon_s=600, min_positive=1, min_negative=1))
    quiet = features(anomaly_score=0, firing=0, error_ratio=0, saturation=0.4, exhaustion=0,
                     seconds_to_limit=None, horizon_s=600)  # fmt: skip
    risky = features(anomaly_score=0.9, firing=3, error_ratio=0.2, saturation=0.95,
                     exhaustion=1.0, seconds_to_limit=300, horizon_s=600)  # fmt: skip
    model.observe(0, quiet)
    model.observe(1000, risky)
    assert model.settle(500) == 0  # neither window has closed: nothing is known yet
    assert model.settle(700) == 1  # the quiet vector's window closed without an incident
    assert (model.positives, model.negatives) == (0, 1)
    model.incident_opened(1300)  # within 600 s after the risky vector
    assert model.settle(1599) == 0  # its window is still open
    assert model.settle(1600) == 1
    assert (model.positives, model.negatives) == (1, 1)
    assert model.trained and not model.pending


def test_the_classifier_learns_which_features_precede_incidents() -> None:
    model = ServiceFailureModel(FailurePolicy(horizon_s=60, min_positive=5, min_negative=5))
    t = 0.0
    for i in range(400):
        risky = i % 4 == 0
        x = features(
            anomaly_score=0.95 if risky else 0.1, firing=2 if risky else 0, error_ratio=0.0,
            saturation=0.97 if risky else 0.5, exhaustion=1.0 if risky else 0.0,
            seconds_to_limit=30 if risky else None, horizon_s=60,
        )  # fmt: skip
        model.observe(t, x)
        if risky:
            model.incident_opened(t + 30)
        t += 100
        model.settle(t)
    hot = features(anomaly_score=0.95, firing=2, error_ratio=0, saturation=0.97, exhaustion=1,
                   seconds_to_limit=30, horizon_s=60)  # fmt: skip
    cold = features(anomaly_score=0.1, firing=0, error_ratio=0, saturation=0.5, exhaustion=0,
                    seconds_to_limit=None, horizon_s=60)  # fmt: skip
    assert model.trained
    assert model.observe(t, hot) > 0.8
    assert model.observe(t, cold) < 0.2


def test_calibration_follows_observed_frequencies() -> None:
    c = BinningCalibrator(bins=10)
    for i in range(1000):
        c.learn_one(0.55, i % 5 == 0)  # a raw 0.55 is right one time in five
    assert c.predict(0.55) == pytest.approx(0.2, abs=0.02)
    assert c.predict(0.05) == pytest.approx(0.05)  # an empty bin keeps the raw score


def _stream(
    intelligence: Intelligence, kind: SlowBurn, seed: int
) -> tuple[list[Prediction], float | None]:
    run = slowburn_run(kind, seed)
    out: list[Prediction] = []
    for point in telemetry(run):
        out += intelligence.observe_point(point)
    return out, run.failure_s


@pytest.mark.parametrize("kind", [SlowBurn.MEMORY_LEAK, SlowBurn.DISK_FILL])
def test_a_slow_burn_fault_is_predicted_well_before_the_failure(kind: SlowBurn) -> None:
    predictions, failure = _stream(Intelligence(), kind, seed=1)
    alarms = [p for p in predictions if p.kind == "failure" and p.status == "firing"]
    assert failure is not None and len(alarms) == 1
    start = slowburn_run(kind, 1).start
    lead = failure - (alarms[0].timestamp - start).total_seconds()
    assert lead >= 300  # at least five minutes (the benchmark's median is above ten)
    assert alarms[0].probability >= 0.8 and alarms[0].lead_time_s is not None
    exhaustion = [p for p in predictions if p.kind == "exhaustion"]
    resource = "memory_bytes" if kind is SlowBurn.MEMORY_LEAK else "disk_used_bytes"
    assert exhaustion and exhaustion[-1].detail["resource"] == resource


@pytest.mark.parametrize("kind", [SlowBurn.STEADY, SlowBurn.CACHE_WARMUP, SlowBurn.LOG_ROTATION])
def test_benign_changes_raise_no_alarm(kind: SlowBurn) -> None:
    predictions, _ = _stream(Intelligence(), kind, seed=2)
    assert not [p for p in predictions if p.status == "firing"]


def test_load_forecasts_are_published_once_per_bucket() -> None:
    policy = IntelligencePolicy(forecast=ForecastPolicy(step_s=300), forecast_buckets=3)
    intelligence = Intelligence(policy)
    out: list[Prediction] = []
    for i in range(120):  # 20 minutes at 10 s: four buckets closed
        at = T0 + timedelta(seconds=10 * i)
        point = MetricPoint(name="http_requests_per_second", labels={"service": "cart"},
                            value=50.0, timestamp=at)  # fmt: skip
        out += intelligence.observe_point(point)
    forecasts = [p for p in out if p.kind == "load_forecast"]
    assert len(forecasts) == 3  # buckets 0, 1 and 2 closed (the fourth is still open)
    assert len({p.id for p in forecasts}) == 3
    assert forecasts[-1].value == pytest.approx(50.0, rel=1e-3)
    assert len(forecasts[-1].detail["forecast"]) == 3


def _incident(kind: str, at: datetime) -> IncidentEvent:
    return IncidentEvent(type=IncidentEventType.OPENED, incident_id="i", title="t",
                         service="cart", severity=Severity.ERROR, status=IncidentStatus.OPEN,
                         opened_at=at, kind=kind)  # fmt: skip


def test_only_real_incidents_become_labels() -> None:
    intelligence = Intelligence()
    intelligence.observe_incident(_incident("detected", T0))
    view = intelligence.services[("default", "cart")]
    assert list(view.model.incidents) == [T0.timestamp()]
    intelligence.observe_incident(_incident("predicted", T0 + timedelta(minutes=5)))
    assert list(view.model.incidents) == [T0.timestamp()]  # our own output is no label


def test_gauges_expose_scores_probabilities_and_forecasts_with_bounded_labels() -> None:
    intelligence = Intelligence(IntelligencePolicy(max_services=3))
    for n in range(5):
        intelligence.observe_anomaly(
            Anomaly(
                status="firing",
                series=f"s{n}",
                metric="m",
                service=f"svc{n}",
                timestamp=T0,
                score=0.5 + n / 10,
            )  # fmt: skip
        )
    predictions, _ = _stream(intelligence, SlowBurn.MEMORY_LEAK, seed=1)
    registry = CollectorRegistry()
    registry.register(IntelligenceCollector(intelligence))
    text = generate_latest(registry).decode()
    service = predictions[0].service
    assert (
        f'vigil_failure_probability{{model="trend",service="{service}",tenant="default"}}' in text
    )
    assert (
        f'vigil_load_forecast{{ahead_s="300",metric="http_requests_per_second",service="{service}"'
        in text
    )
    assert 'vigil_anomaly_score{service="svc4",tenant="default"} 0.9' in text
    assert "vigil_resource_seconds_to_limit" in text
    services = {line.split('service="')[1].split('"')[0] for line in text.splitlines()
                if line.startswith("vigil_anomaly_score{")}  # fmt: skip
    assert len(services) == 3  # at most max_services: the least recently seen were evicted


def test_failure_predictions_are_published_on_change_or_every_quarter_hour() -> None:
    predictions, _ = _stream(Intelligence(), SlowBurn.STEADY, seed=3)
    failures = [p for p in predictions if p.kind == "failure"]
    run = slowburn_run(SlowBurn.STEADY, 3)
    # Evaluated every minute of a steady run, but published about every 15 minutes.
    assert len(failures) <= run.duration_s / 900 + 2
    stamps = [p.timestamp for p in failures]
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    assert gaps and min(gaps) >= 900
    leak, _ = _stream(Intelligence(), SlowBurn.MEMORY_LEAK, seed=1)
    rising = [p.probability for p in leak if p.kind == "failure"]
    assert max(rising) >= 0.8  # a climbing probability is published as it moves
