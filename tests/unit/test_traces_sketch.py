from __future__ import annotations

import math
import random

import pytest

from services.detect.traces.sketch import QuantileSketch


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99, 0.999])
def test_quantiles_are_within_the_relative_accuracy_of_the_exact_ones(q: float) -> None:
    rng = random.Random(3)
    values = [math.exp(rng.gauss(3.0, 1.2)) for _ in range(50_000)]  # heavy-tailed latencies
    sketch = QuantileSketch(accuracy=0.01)
    for value in values:
        sketch.add(value)
    assert sketch.quantile(q) == pytest.approx(exact(values, q), rel=0.02)
    assert sketch.quantiles((q,))[0] == pytest.approx(exact(values, q), rel=0.02)


def test_merged_sketches_answer_like_one_sketch_of_all_values() -> None:
    rng = random.Random(5)
    left, right, both = QuantileSketch(), QuantileSketch(), QuantileSketch()
    for i in range(20_000):
        value = rng.uniform(1, 500) if i % 2 else rng.uniform(200, 2000)
        (left if i % 2 else right).add(value)
        both.add(value)
    left.merge(right)
    assert left.quantiles((0.5, 0.99)) == both.quantiles((0.5, 0.99))


def test_memory_is_bounded_whatever_the_spread_of_values() -> None:
    sketch = QuantileSketch(accuracy=0.01, max_buckets=128)
    values = [10.0 ** (exponent / 10) for exponent in range(-300, 300)]
    for value in values:
        sketch.add(value)
    assert len(sketch.buckets) <= 128
    # Collapsing merges the lowest buckets: high quantiles stay exact to the accuracy.
    assert sketch.quantile(0.99) == pytest.approx(exact(values, 0.99), rel=0.02)


def test_decay_lets_recent_values_dominate() -> None:
    sketch = QuantileSketch()
    for _ in range(1000):
        sketch.add(10.0)
    for _ in range(50):
        sketch.decay(0.9)
        for _ in range(20):
            sketch.add(100.0)
    assert sketch.quantile(0.5) == pytest.approx(100.0, rel=0.02)


def test_zero_durations_and_empty_sketches_are_handled() -> None:
    sketch = QuantileSketch()
    assert math.isnan(sketch.quantile(0.5))
    sketch.add(0.0)
    sketch.add(5.0)
    assert sketch.quantile(0.0) == 0.0
    restored = QuantileSketch.from_list(sketch.to_list())
    assert restored.quantiles((0.0, 1.0)) == sketch.quantiles((0.0, 1.0))
