"""The online seasonal load forecaster and replica recommendations (pure)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from services.api.predictions.scaling import Forecast, ScalingPolicy, recommend, replicas_for
from services.detect.forecast.seasonal import ForecastPolicy, SeasonalForecaster

DAY = 86_400
T0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()  # a Monday


def _traffic(t: float, rng: random.Random) -> float:
    """Daily swell, quieter weekends, a little noise."""
    day = 100 + 60 * math.sin(2 * math.pi * (t % DAY) / DAY)
    weekend = 0.6 if ((t - T0) // DAY) % 7 >= 5 else 1.0
    return day * weekend * (1 + rng.gauss(0, 0.03))


def test_forecast_learns_daily_and_weekly_seasons_better_than_seasonal_naive() -> None:
    rng = random.Random(1)
    step = 1800
    model = SeasonalForecaster(ForecastPolicy(step_s=step))
    history: dict[int, float] = {}
    ours = naive = 0.0
    scored = 0
    pending: float | None = None
    for i in range(4 * 7 * 48):  # four weeks of half-hours
        t = T0 + i * step
        value = _traffic(t, rng)
        if i >= 2 * 7 * 48 and pending is not None:  # score the last two weeks
            ours += abs(pending - value)
            naive += abs(history[i - 48] - value)  # daily seasonal naive
            scored += 1
        model.learn_bucket(int(t // step), value)
        history[i] = value
        pending = model.forecast(1)[0]
    assert scored == 2 * 7 * 48
    assert ours / scored < 0.7 * naive / scored  # weekends fool yesterday's value


def test_points_are_averaged_per_bucket_and_a_closed_bucket_is_reported() -> None:
    model = SeasonalForecaster(ForecastPolicy(step_s=60, daily_s=600, weekly_s=1200))
    assert model.learn_one(0, 10.0) is False
    assert model.learn_one(30, 30.0) is False  # same bucket
    assert model.learn_one(60, 99.0) is True  # closes bucket 0 with mean 20
    assert model.first[0][0] == 0 and math.exp(model.first[0][1]) == pytest.approx(20.001)
    assert model.learn_one(10, 5.0) is False  # late point: its bucket is learnt, ignored


def test_gaps_are_filled_with_the_forecast_and_do_not_shift_the_seasons() -> None:
    policy = ForecastPolicy(step_s=60, daily_s=600, weekly_s=1200)
    model = SeasonalForecaster(policy)
    for minute in range(60):
        if 30 <= minute < 34:
            continue  # four buckets without any point
        model.learn_bucket(minute, 100.0 if minute % 10 < 5 else 200.0)
    assert model.slot == 59
    # The profile still says: minutes 0-4 of each ten are low, 5-9 high.
    assert [round(v) for v in model.forecast(10)] == [100] * 5 + [200] * 5


def test_forecast_before_a_full_day_is_the_recent_mean() -> None:
    model = SeasonalForecaster(ForecastPolicy(step_s=60, daily_s=600, weekly_s=1200))
    assert model.forecast(1) == pytest.approx([0.0])  # nothing seen
    for minute in range(5):
        model.learn_bucket(minute, 50.0)
    assert not model.warm
    assert model.forecast(2) == pytest.approx([50.0, 50.0], rel=1e-3)


@pytest.mark.parametrize(
    "kwargs",
    [{"step_s": 7}, {"alpha": 0}, {"delta": 1.5}, {"phi": 1.0}, {"weekly_s": 90_000}],
)
def test_policy_refuses_inconsistent_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ForecastPolicy(**kwargs)  # type: ignore[arg-type]


def test_replicas_cover_the_peak_with_headroom_within_bounds() -> None:
    policy = ScalingPolicy(target_per_replica=100, min_replicas=2, max_replicas=8, headroom=0.25)
    assert replicas_for(400, policy) == 5  # 400 * 1.25 / 100
    assert replicas_for(10, policy) == 2  # at least min
    assert replicas_for(10_000, policy) == 8  # at most max


def test_scale_up_is_immediate_and_scale_down_waits_for_the_window() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    policy = ScalingPolicy(
        target_per_replica=100, headroom=0, scale_down_window=timedelta(minutes=15)
    )
    rising = [Forecast(at, 200), Forecast(at + timedelta(minutes=5), 900)]
    up = recommend(rising, policy)
    assert up is not None and up.replicas == 9 and up.undamped == 9
    falling = [*rising, Forecast(at + timedelta(minutes=10), 100)]
    held = recommend(falling, policy)
    assert held is not None and held.replicas == 9 and held.undamped == 1
    later = [*falling, Forecast(at + timedelta(minutes=25), 100)]
    down = recommend(later, policy)
    assert down is not None and down.replicas == 1  # the 900 forecast left the window
    assert recommend([], policy) is None


def test_scaling_policy_refuses_contradictions() -> None:
    with pytest.raises(ValueError):
        ScalingPolicy(target_per_replica=0)
    with pytest.raises(ValueError):
        ScalingPolicy(target_per_replica=1, min_replicas=5, max_replicas=2)


def test_the_docstring_examples_run() -> None:
    import doctest

    from services.api.predictions import scaling
    from services.detect.forecast import seasonal
    from services.detect.predict import exhaustion, failure, trend

    for module in (seasonal, scaling, trend, exhaustion, failure):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
