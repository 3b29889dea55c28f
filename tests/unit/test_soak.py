"""The soak benchmark's arithmetic: memory slopes and the flat/growing verdict, fault timing."""

from __future__ import annotations

from benchmarks.soak import Sample, memory_verdict, percentile, slope, soak_scenario


def _samples(rss: list[float], every_s: float = 10) -> list[Sample]:
    return [Sample(i * every_s, {"detect": value}, {}) for i, value in enumerate(rss)]


def test_slope_is_in_mib_per_minute() -> None:
    assert slope([(0, 100), (60, 102), (120, 104)]) == 2.0
    assert slope([(0, 100), (60, 100), (120, 100)]) == 0.0


def test_growth_that_levels_off_is_flat_and_a_steady_climb_is_not() -> None:
    levelling = [100 + min(i, 30) * 2 for i in range(60)]  # climbs, then stays
    (verdict,) = memory_verdict(_samples(levelling), warmup_s=0)
    assert verdict.endswith("FLAT")
    leaking = [100 + i * 2 for i in range(60)]  # 12 MiB/min, all the way
    (verdict,) = memory_verdict(_samples(leaking), warmup_s=0)
    assert verdict.endswith("GROWING")


def test_faults_start_after_warm_up_and_end_before_the_run_does() -> None:
    scenario = soak_scenario(12_000, 1_500, 5.0, 7)
    starts = [f.start_s for f in scenario.faults]
    assert starts == [3000, 4500, 6000, 7500, 9000, 10500]
    assert all(f.end_s < scenario.duration_s for f in scenario.faults)
    assert len({f.kind for f in scenario.faults}) == 5


def test_percentile_picks_the_nearest_rank() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 30.0], 0.99) == 30.0
