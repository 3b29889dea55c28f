"""Score a template miner on Loghub-style directories, with loghub-dev's protocol.

Each system directory holds `X_2k.log_structured.csv` (columns Content, EventId,
EventTemplate). Its Content lines go to the miner one at a time, in file order. Two figures:

- grouping accuracy (GA, Zhu et al. 2019): a line is right when the set of lines its group
  holds at the end is exactly the set of lines of its ground-truth template;
- parsing accuracy (PA): the share of lines whose group's final template text equals the
  ground-truth template once whitespace is normalised (parameters written `<*>`).
"""

from __future__ import annotations

import csv
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

_RUN = re.compile(r"(?:<\*>\s*)+")


def load(system: Path) -> tuple[list[str], list[str], list[str]]:
    """(contents, event ids, event templates) of one system directory."""
    structured = next(system.glob("*_structured.csv"))
    with structured.open(encoding="utf-8", errors="replace", newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        [r["Content"] for r in rows],
        [r["EventId"] for r in rows],
        [r["EventTemplate"] for r in rows],
    )


def grouping_accuracy(truth: list[str], predicted: list[str]) -> float:
    """Share of lines whose predicted group is exactly their true group."""
    by_pred: dict[str, list[int]] = {}
    for index, group in enumerate(predicted):
        by_pred.setdefault(group, []).append(index)
    true_sizes = Counter(truth)
    right = 0
    for members in by_pred.values():
        labels = {truth[i] for i in members}
        if len(labels) == 1 and true_sizes[truth[members[0]]] == len(members):
            right += len(members)
    return right / len(truth) if truth else 1.0


def normalise(template: str) -> str:
    """A template compared for parsing accuracy: whitespace collapsed, `<*>` runs kept apart."""
    return " ".join(template.split())


def parsing_accuracy(truth: list[str], predicted: list[str]) -> float:
    """Share of lines whose final template text is the ground truth's."""
    right = sum(normalise(t) == normalise(p) for t, p in zip(truth, predicted, strict=True))
    return right / len(truth) if truth else 1.0


Parser = Callable[[list[str]], tuple[list[str], list[str]]]


def score(system: Path, parser: Parser) -> dict[str, float]:
    """GA, PA and lines/s (one core, CPU time) of `parser` on a system.

    `parser` maps the lines to (final group id, final template) per line."""
    contents, events, templates = load(system)
    started = time.process_time()  # CPU time of this core: lines/s per core on a shared host
    ids, texts = parser(contents)
    elapsed = time.process_time() - started
    return {
        "ga": round(grouping_accuracy(events, ids), 4),
        "pa": round(parsing_accuracy(templates, texts), 4),
        "lines_per_s": round(len(contents) / max(elapsed, 1e-9)),
    }


def systems(root: Path) -> list[Path]:
    """The system directories under `root`, sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*_structured.csv")))
