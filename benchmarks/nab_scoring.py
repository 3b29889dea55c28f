"""The NAB v1.1 scoring procedure, re-implemented from its written description.

The description this follows is the one in the NAB development corpus' README (probation,
window-relative sigmoid, false positives weighted by their distance after a window, one global
threshold per profile found by sweeping every distinct score, normalisation against the null
and perfect detectors). Pure functions over plain lists; reading files is `load_corpus`'s job.

Examples
--------
A detection on the first row of the only window earns the whole A_TP; nothing else fires:

>>> f = FileResult("f", scores=[0.0] * 10 + [1.0] + [0.0] * 9, windows=[(10, 13)])
>>> round(score_corpus([f], STANDARD).normalised, 6)
100.0
"""

from __future__ import annotations

import csv
import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PROBATION_FRACTION = 0.15
PROBATION_CAP = 750


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


STANDARD = Profile("standard", 1.0, 0.11, 1.0)
LOW_FP = Profile("reward_low_FP_rate", 1.0, 0.22, 1.0)
LOW_FN = Profile("reward_low_FN_rate", 1.0, 0.11, 2.0)
PROFILES = (STANDARD, LOW_FP, LOW_FN)


@dataclass
class FileResult:
    """One file's detector output: a score per row and its windows as (first, last) row indices."""

    name: str
    scores: Sequence[float]
    windows: Sequence[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class CorpusScore:
    """The outcome of scoring a corpus under one profile."""

    profile: Profile
    threshold: float
    raw: float
    normalised: float
    per_file_raw: dict[str, float]


def probation_length(n_rows: int) -> int:
    """Rows at the start of a file that are never scored."""
    return min(math.floor(PROBATION_FRACTION * n_rows), PROBATION_CAP)


def scaled_sigmoid(y: float) -> float:
    """NAB's sigma: 2 / (1 + exp(5y)) - 1, and -1 for arguments above 3."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def row_values(
    n_rows: int, windows: Sequence[tuple[int, int]], profile: Profile
) -> tuple[list[float], list[int]]:
    """What a detection on each row is worth, and the index of its window (-1 outside one)."""
    values = [0.0] * n_rows
    owner = [-1] * n_rows
    max_tp = scaled_sigmoid(-1.0)
    prev_right: int | None = None
    prev_width = 0
    starts = {left: k for k, (left, _right) in enumerate(windows)}
    i = 0
    while i < n_rows:
        k = starts.get(i)
        if k is not None:
            left, right = windows[k]
            width = right - left + 1
            for j in range(left, min(right, n_rows - 1) + 1):
                y = -(right - j + 1) / width
                values[j] = profile.a_tp * scaled_sigmoid(y) / max_tp
                owner[j] = k
            prev_right, prev_width = right, width
            i = right + 1
            continue
        if prev_right is None:
            values[i] = -profile.a_fp
        else:
            distance = abs(prev_right - i)
            y = math.inf if prev_width <= 1 else distance / (prev_width - 1)
            values[i] = profile.a_fp * scaled_sigmoid(y)
        i += 1
    return values, owner


def file_raw_score(result: FileResult, profile: Profile, threshold: float) -> float:
    """A file's raw score when every scored row at or above `threshold` is a detection."""
    values, owner = row_values(len(result.scores), result.windows, profile)
    best = [-profile.a_fn] * len(result.windows)
    false_positives = 0.0
    for i in range(probation_length(len(result.scores)), len(result.scores)):
        if result.scores[i] < threshold:
            continue
        k = owner[i]
        if k < 0:
            false_positives += values[i]
        else:
            best[k] = max(best[k], values[i])
    return sum(best) + false_positives


def null_raw(n_windows: int, profile: Profile) -> float:
    """Raw score of a detector that never fires."""
    return -profile.a_fn * n_windows


def normalise(raw: float, n_windows: int, profile: Profile) -> float:
    """Map a raw score to NAB's 0 (null detector) .. 100 (perfect detector) scale."""
    perfect = profile.a_tp * n_windows
    null = null_raw(n_windows, profile)
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def sweep(files: Sequence[FileResult], profile: Profile) -> tuple[float, float]:
    """The global threshold maximising the corpus' summed raw score, and that raw score.

    Rows are visited from the highest score down; every distinct score is a candidate
    threshold, and "above every score" (the null detector) is the starting point.
    """
    rows: list[tuple[float, int, float]] = []  # (score, window key or -1, value)
    window_base: list[int] = []
    n_windows = 0
    for result in files:
        values, owner = row_values(len(result.scores), result.windows, profile)
        window_base.append(n_windows)
        for i in range(probation_length(len(result.scores)), len(result.scores)):
            k = owner[i]
            rows.append((float(result.scores[i]), n_windows + k if k >= 0 else -1, values[i]))
        n_windows += len(result.windows)
    rows.sort(key=lambda r: r[0], reverse=True)
    best_per_window = [-profile.a_fn] * n_windows
    total = -profile.a_fn * n_windows
    best_threshold, best_total = math.inf, total
    i = 0
    while i < len(rows):
        threshold = rows[i][0]
        while i < len(rows) and rows[i][0] == threshold:
            _score, k, value = rows[i]
            if k < 0:
                total += value
            elif value > best_per_window[k]:
                total += value - best_per_window[k]
                best_per_window[k] = value
            i += 1
        if total > best_total:
            best_threshold, best_total = threshold, total
    return best_threshold, best_total


def score_corpus(
    files: Sequence[FileResult], profile: Profile, threshold: float | None = None
) -> CorpusScore:
    """Score a corpus under one profile, at the optimal global threshold unless one is given."""
    if threshold is None:
        threshold, _ = sweep(files, profile)
    per_file = {f.name: file_raw_score(f, profile, threshold) for f in files}
    raw = sum(per_file.values())
    n_windows = sum(len(f.windows) for f in files)
    return CorpusScore(profile, threshold, raw, normalise(raw, n_windows, profile), per_file)


def subset_score(score: CorpusScore, files: Iterable[FileResult]) -> float:
    """Normalised score of some of the corpus' files, at the corpus' global threshold."""
    chosen = list(files)
    raw = sum(score.per_file_raw[f.name] for f in chosen)
    return normalise(raw, sum(len(f.windows) for f in chosen), score.profile)


# -- reading a corpus and a detector's results -------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """Parse NAB's timestamps ("2014-04-10 07:15:00" with or without fractional seconds)."""
    return datetime.fromisoformat(text.strip())


def window_rows(
    timestamps: Sequence[datetime], windows: Iterable[Sequence[str]]
) -> list[tuple[int, int]]:
    """Row index ranges of label windows: the first row at or after the start to the last at
    or before the end."""
    rows = []
    for start, end in windows:
        left = bisect_left(timestamps, parse_timestamp(start))
        right = bisect_right(timestamps, parse_timestamp(end)) - 1
        if left <= right:
            rows.append((left, right))
    return rows


def find_labels(data_dir: Path) -> Path:
    """Locate combined_windows.json in the data folder or its parent (the corpus root)."""
    for candidate in (
        data_dir / "combined_windows.json",
        data_dir.parent / "combined_windows.json",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no combined_windows.json in {data_dir} or its parent")


def load_results(results_dir: Path, labels_path: Path) -> list[FileResult]:
    """Read `<results>/<cat>/<NAME>_<file>.csv` for every labelled file."""
    labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    name = results_dir.name
    files = []
    for key in sorted(labels):
        category, filename = key.split("/", 1)
        path = results_dir / category / f"{name}_{filename}"
        if not path.is_file():
            raise FileNotFoundError(f"missing result file {path}")
        timestamps: list[datetime] = []
        scores: list[float] = []
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                timestamps.append(parse_timestamp(row["timestamp"]))
                scores.append(float(row["anomaly_score"]))
        files.append(FileResult(key, scores, window_rows(timestamps, labels[key])))
    return files
