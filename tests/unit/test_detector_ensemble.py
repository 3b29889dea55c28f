"""The production detector on synthetic series: it fires on the right thing, explains it, and
keeps its state small and restorable."""

from __future__ import annotations

import math
import pickle
import random
from datetime import UTC, datetime, timedelta

from services.core.events import MetricPoint
from services.detect.detectors import Assessment
from services.detect.detectors.ensemble import (
    ONGOING_FLOOR,
    ONSET_FLOOR,
    EnsembleDetector,
    make_detector,
)
from services.detect.detectors.fallback import FallbackDetector
from services.detect.monitor import MetricsMonitor

STEP = 300.0  # five-minute samples
START = 1_700_006_400.0  # a midnight, UTC
DAY = 288  # samples per day


def _feed(values: list[float], step: float = STEP) -> list[Assessment]:
    detector = make_detector()
    return [detector.assess(START + i * step, v) for i, v in enumerate(values)]


def _noise(n: int, seed: int = 1, base: float = 100.0, sd: float = 2.0) -> list[float]:
    rng = random.Random(seed)
    return [base + rng.gauss(0.0, sd) for _ in range(n)]


def _onsets(verdicts: list[Assessment], start: int, end: int) -> list[int]:
    return [i for i in range(start, end) if verdicts[i].score >= ONSET_FLOOR]


def _daily(days: int, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [50 + 30 * math.sin(2 * math.pi * i / DAY) + rng.gauss(0, 1) for i in range(days * DAY)]


def test_a_spike_is_reported_at_once_as_a_spike_against_the_usual_level() -> None:
    values = _noise(800)
    values[600] += 30.0  # fifteen standard deviations
    verdicts = _feed(values)
    spike = verdicts[600]
    assert spike.score >= ONSET_FLOOR
    assert spike.component == "spike"
    assert abs(spike.expected - 100.0) < 3.0
    assert spike.upper < values[600]
    assert _onsets(verdicts, 550, 800) == [600]  # not before, not again


def test_a_level_shift_is_reported_once_then_stays_anomalous_as_a_level_shift() -> None:
    values = _noise(900)
    values[600:] = [v + 16.0 for v in values[600:]]  # eight standard deviations, for good
    verdicts = _feed(values)
    assert _onsets(verdicts, 550, 700) == [600]
    following = verdicts[601:604]
    assert all(ONGOING_FLOOR <= v.score < ONSET_FLOOR for v in following)
    assert all(v.component == "level_shift" for v in following)
    assert all(v.expected < values[i] for i, v in enumerate(following, start=601))


def test_a_noisy_series_that_freezes_is_reported_as_a_flatline() -> None:
    values = _noise(900)
    values[600:] = [100.0] * 300  # the sensor sticks at an ordinary value
    verdicts = _feed(values)
    onsets = _onsets(verdicts, 550, 900)
    assert len(onsets) == 1 and 605 <= onsets[0] <= 620
    frozen = verdicts[onsets[0]]
    assert frozen.component == "flatline"
    assert frozen.lower <= 100.0 <= frozen.upper  # the value itself is ordinary


def test_a_missing_daily_peak_is_reported_as_a_seasonal_break() -> None:
    values = _daily(10)
    rng = random.Random(9)
    day8 = 8 * DAY
    for i in range(day8, day8 + DAY // 2):
        values[i] = 50 + rng.gauss(0, 1)  # the usual daytime peak does not come
    verdicts = _feed(values)
    onsets = _onsets(verdicts, day8 - DAY // 2, day8 + DAY)
    assert onsets and day8 <= onsets[0] <= day8 + 12
    first = verdicts[onsets[0]]
    assert first.component == "seasonal"
    assert first.expected > values[onsets[0]]  # it expected the peak to be rising
    assert all(verdicts[i].score < ONSET_FLOOR for i in range(5 * DAY, day8))  # normal days


def test_a_counter_reset_is_not_an_anomaly() -> None:
    rng = random.Random(5)
    count, values = 1_000.0, []
    for i in range(1500):
        count = (0.0 if i == 1000 else count) + 10 + rng.gauss(0, 1)
        values.append(count)
    verdicts = _feed(values, step=60.0)
    assert all(v.score < ONGOING_FLOOR for v in verdicts[995:1010])
    # Explained in counter units: the expected count is near the observed one.
    assert abs(verdicts[1200].expected - values[1200]) < 20


def test_a_counter_that_stops_counting_is_reported() -> None:
    rng = random.Random(6)
    count, values = 0.0, []
    for i in range(1200):
        count += (10 + rng.gauss(0, 1)) if i < 1000 else 0.0
        values.append(count)
    verdicts = _feed(values, step=60.0)
    assert _onsets(verdicts, 1000, 1030)


def test_gaps_and_irregular_sampling_do_not_raise_alarms_by_themselves() -> None:
    rng = random.Random(7)
    detector = make_detector()
    t, verdicts = START, []
    for i in range(1500):
        t += rng.uniform(60, 600) + (2 * 86_400 if i == 1000 else 0)  # and a two-day outage
        verdicts.append(detector.assess(t, 100 + rng.gauss(0, 2)))
    assert _onsets(verdicts, 1000, 1030) == []
    assert all(math.isfinite(v.score) for v in verdicts)


def test_a_missing_value_is_ignored_not_learned() -> None:
    values = _noise(700)
    plain, holed = make_detector(), make_detector()
    expected = [plain.assess(START + i * STEP, v) for i, v in enumerate(values)]
    got = []
    for i, v in enumerate(values):
        if i == 500:
            missing = holed.assess(START + (i - 0.5) * STEP, math.nan)
        got.append(holed.assess(START + i * STEP, v))
    assert missing.score == 0.0 and not missing.warm and missing.component == "no_data"
    assert got == expected


def test_a_quiet_series_rarely_reports() -> None:
    # Records of a noisy series keep happening (ever more rarely): a known, bounded cost.
    for seed in range(3):
        verdicts = _feed(_noise(5000, seed=seed))
        assert len(_onsets(verdicts, 100, 5000)) <= 10


def test_a_pickled_detector_continues_exactly_where_it_left_off() -> None:
    values = _daily(4)
    values[900] += 40
    values[1000:] = [v + 20 for v in values[1000:]]
    uninterrupted = make_detector()
    reference = [uninterrupted.assess(START + i * STEP, v) for i, v in enumerate(values)]
    first = make_detector()
    for i, v in enumerate(values[:950]):
        first.assess(START + i * STEP, v)
    restored = pickle.loads(pickle.dumps(first, protocol=5))
    resumed = [restored.assess(START + i * STEP, v) for i, v in enumerate(values) if i >= 950]
    assert resumed == reference[950:]
    assert any(v.score >= ONSET_FLOOR for v in resumed)  # and it still detects, no re-learning


def test_state_stays_the_same_size_however_long_the_series() -> None:
    detector = make_detector()
    values = _daily(70)
    sizes = {}
    for i, v in enumerate(values):
        detector.assess(START + i * STEP, v)
        if i + 1 in (8 * DAY, 70 * DAY):
            sizes[i + 1] = len(pickle.dumps(detector, protocol=5))
    assert sizes[70 * DAY] <= sizes[8 * DAY] * 1.02
    assert sizes[70 * DAY] < 16_384


def test_the_monitor_uses_the_ensemble_and_fires_and_resolves_on_a_fault() -> None:
    monitor = MetricsMonitor()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fault_start = start + timedelta(seconds=10 * 250)
    rng = random.Random(1)
    events = []
    for i in range(400):
        value = 100 + rng.gauss(0, 2) + (400 if 250 <= i < 280 else 0)
        point = MetricPoint(
            name="latency",
            labels={"service": "api"},
            value=value,
            timestamp=start + timedelta(seconds=10 * i),
        )
        events.extend(monitor.observe(point))
    state = next(iter(monitor.series.values()))
    assert isinstance(state.detector, FallbackDetector)
    assert isinstance(state.detector.primary, EnsembleDetector)
    during = [e for e in events if e.timestamp >= fault_start]
    assert [e.status for e in during] == ["firing", "resolved"]
    firing = during[0]
    assert firing.timestamp <= fault_start + timedelta(seconds=20)  # fire_after=2 points
    assert firing.explanation is not None
    assert firing.explanation.observed > firing.explanation.upper
    assert firing.detector == "level_shift"  # a departure that lasted, not a lone spike
    assert len(events) - len(during) <= 2  # plain noise may set a record
