"""The NAB v1.1 scorer against tiny cases computed by hand from the corpus README's rules."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from benchmarks.nab_scoring import (
    LOW_FN,
    LOW_FP,
    STANDARD,
    FileResult,
    file_raw_score,
    normalise,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    sweep,
    window_rows,
)

SIGMA_MINUS_1 = 2 / (1 + math.exp(-5)) - 1  # 0.986614...


def _file(
    n: int, hits: dict[int, float], windows: list[tuple[int, int]], name: str = "f"
) -> FileResult:
    scores = [0.0] * n
    for i, s in hits.items():
        scores[i] = s
    return FileResult(name, scores, windows)


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert probation_length(20) == 3
    assert probation_length(1624) == 243
    assert probation_length(100_000) == 750


def test_scaled_sigmoid_matches_the_formula_and_is_minus_one_beyond_three() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(0.5) == pytest.approx(2 / (1 + math.exp(2.5)) - 1)
    assert scaled_sigmoid(3.0) == pytest.approx(2 / (1 + math.exp(15)) - 1)
    assert scaled_sigmoid(3.01) == -1.0


def test_a_perfect_detector_scores_100_in_every_profile() -> None:
    files = [
        _file(40, {10: 1.0, 30: 1.0}, [(10, 14), (30, 33)], "a"),
        _file(40, {20: 1.0}, [(20, 25)], "b"),
    ]
    for profile in (STANDARD, LOW_FP, LOW_FN):
        assert score_corpus(files, profile).normalised == pytest.approx(100.0)


def test_the_null_detector_scores_0() -> None:
    never = [_file(40, {}, [(10, 14)], "a"), _file(40, {}, [(20, 25)], "b")]
    for profile in (STANDARD, LOW_FP, LOW_FN):
        result = score_corpus(never, profile)
        assert result.normalised == 0.0
        assert result.raw == -profile.a_fn * 2


def test_a_constant_score_is_the_null_detector_when_firing_everywhere_costs_more() -> None:
    # Firing on all 95 scored rows would earn one window but pay ~90 false positives.
    constant = FileResult("c", [0.5] * 100, [(50, 53)])
    result = score_corpus([constant], STANDARD)
    assert result.threshold == math.inf
    assert result.normalised == 0.0


def test_an_fp_before_the_first_window_costs_a_fp() -> None:
    f = _file(20, {5: 1.0, 12: 1.0}, [(12, 15)])
    assert file_raw_score(f, STANDARD, 0.5) == pytest.approx(1.0 - 0.11)
    assert file_raw_score(f, LOW_FP, 0.5) == pytest.approx(1.0 - 0.22)


def test_detections_during_probation_are_ignored() -> None:
    # 20 rows: rows 0..2 are probation; a hit there is neither an FP nor a TP.
    f = _file(20, {2: 1.0}, [(1, 2), (12, 15)])
    assert file_raw_score(f, STANDARD, 0.5) == pytest.approx(-2.0)


def test_late_detection_in_a_window_earns_the_sigmoid_of_its_relative_position() -> None:
    # Window of width 4, hit on its last row: y = -1/4.
    f = _file(20, {15: 1.0}, [(12, 15)])
    expected = (2 / (1 + math.exp(-1.25)) - 1) / SIGMA_MINUS_1  # 0.5621...
    assert file_raw_score(f, STANDARD, 0.5) == pytest.approx(expected)
    assert expected == pytest.approx(0.5621, abs=1e-4)


def test_only_the_best_detection_of_a_window_counts() -> None:
    f = _file(20, {12: 1.0, 13: 1.0, 14: 1.0}, [(12, 15)])
    assert file_raw_score(f, STANDARD, 0.5) == pytest.approx(1.0)


def test_fp_after_a_window_is_weighted_by_distance_relative_to_that_window() -> None:
    # Window rows 10..14 (width 5); a hit 2 rows after its end: y = 2 / (5 - 1) = 0.5.
    near = _file(40, {10: 1.0, 16: 1.0}, [(10, 14)])
    fp = 0.11 * (2 / (1 + math.exp(2.5)) - 1)  # -0.0933...
    assert file_raw_score(near, STANDARD, 0.5) == pytest.approx(1.0 + fp)
    assert fp == pytest.approx(-0.0933, abs=1e-4)
    # 13 rows after the end: y = 3.25 > 3, so the full A_FP is charged.
    far = _file(40, {10: 1.0, 27: 1.0}, [(10, 14)])
    assert file_raw_score(far, STANDARD, 0.5) == pytest.approx(1.0 - 0.11)


def test_a_missed_window_costs_a_fn_which_the_low_fn_profile_doubles() -> None:
    f = _file(20, {}, [(12, 15)])
    assert file_raw_score(f, STANDARD, 0.5) == -1.0
    assert file_raw_score(f, LOW_FN, 0.5) == -2.0


def test_one_global_threshold_maximises_the_corpus_sum() -> None:
    # a: an FP scoring 0.95 before its window, its window hit at 0.9; b: window hit at 0.6.
    a = _file(20, {4: 0.95, 12: 0.9}, [(12, 15)], "a")
    b = _file(20, {12: 0.6}, [(12, 15)], "b")
    threshold, raw = sweep([a, b], STANDARD)
    assert threshold == 0.6
    assert raw == pytest.approx((1.0 - 0.11) + 1.0)
    result = score_corpus([a, b], STANDARD)
    assert result.per_file_raw == {"a": pytest.approx(0.89), "b": pytest.approx(1.0)}
    assert result.normalised == pytest.approx(100 * (1.89 + 2) / 4)


def test_the_sweep_prefers_missing_a_window_over_many_costly_false_positives() -> None:
    # Reaching b's window (score 0.3) would also fire 30 FPs in a, costing 3.3 > 1 + 1.
    a = FileResult("a", [0.0] * 10 + [0.3] * 30 + [0.9] + [0.0] * 19, [(40, 44)])
    b = _file(60, {40: 0.3}, [(40, 44)], "b")
    threshold, raw = sweep([a, b], STANDARD)
    assert threshold == 0.9
    assert raw == pytest.approx(1.0 - 1.0)


def test_normalisation_maps_null_to_0_and_perfect_to_100() -> None:
    assert normalise(-3.0, 3, STANDARD) == 0.0
    assert normalise(3.0, 3, STANDARD) == 100.0
    assert normalise(0.0, 3, STANDARD) == 50.0
    assert normalise(-6.0, 3, LOW_FN) == 0.0
    assert normalise(0.0, 3, LOW_FN) == pytest.approx(100 * 6 / 9)


def test_window_rows_map_label_timestamps_onto_rows() -> None:
    stamps = [datetime(2014, 4, 1, 0, 5 * i) for i in range(10)]
    rows = window_rows(stamps, [["2014-04-01 00:10:00.000000", "2014-04-01 00:25:00"]])
    assert rows == [(2, 5)]
    between = window_rows(stamps, [["2014-04-01 00:11:00", "2014-04-01 00:24:00"]])
    assert between == [(3, 4)]
