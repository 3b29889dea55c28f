"""Score NAB result files with the project's NAB v1.1 scorer, beside the published detectors.

    python benchmarks/nab_score.py --results OUT/vigil --data DIR [--labels FILE] [--per-file]

`--results` is the folder `benchmarks/nab.py` wrote (`<cat>/<NAME>_<file>.csv`); `--data` is the
corpus' data folder or its root (either holds, or sits next to, combined_windows.json). Prints
the normalised score per profile at its optimal global threshold, per category at that same
threshold, and the published table from the corpus README for comparison.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nab_scoring import PROFILES, CorpusScore, FileResult, find_labels, load_results, score_corpus
from nab_scoring import subset_score as category_score

# Re-scored from NAB's published result files on the 31-file development corpus (its README).
PUBLISHED: tuple[tuple[str, float, float, float], ...] = (
    ("ARTime", 73.55, 65.59, 78.59),
    ("Numenta HTM", 69.52, 62.88, 74.02),
    ("CAD OSE", 66.13, 62.76, 69.74),
    ("Random Cut Forest", 61.26, 50.68, 68.51),
    ("Relative Entropy", 54.07, 45.04, 59.32),
    ("KNN CAD", 52.54, 38.72, 59.56),
    ("earthgecko Skyline", 51.57, 47.28, 54.50),
    ("EWMA z-score (alpha 0.01)", 40.70, 24.49, 48.51),
    ("Windowed Gaussian", 37.70, 32.72, 40.86),
    ("river HalfSpaceTrees (defaults)", 2.29, 0.00, 6.03),
    ("null (never fires)", 0.00, 0.00, 0.00),
)


def report(name: str, files: list[FileResult], per_file: bool) -> str:
    """The printed report: our scores, per category, published table."""
    scores = [score_corpus(files, profile) for profile in PROFILES]
    lines = [
        f"NAB v1.1 scores of '{name}' on {len(files)} files, "
        f"{sum(len(f.windows) for f in files)} windows (one global threshold per profile)"
    ]
    lines.append(f"{'profile':<22}{'score':>8}{'threshold':>12}")
    for s in scores:
        lines.append(f"{s.profile.name:<22}{s.normalised:>8.2f}{s.threshold:>12.4f}")
    lines.append("")
    lines.append(_categories(files, scores))
    if per_file:
        lines.append("")
        lines.append(_files(files, scores[0]))
    lines.append("")
    lines.append(f"{'detector':<34}{'standard':>10}{'low FP':>10}{'low FN':>10}")
    standard, low_fp, low_fn = (s.normalised for s in scores)
    ours = (f"{name} (this run)", standard, low_fp, low_fn)
    rows = sorted([*PUBLISHED, ours], key=lambda r: -r[1])
    for label, standard, low_fp, low_fn in rows:
        mark = "  <--" if label == ours[0] else ""
        lines.append(f"{label:<34}{standard:>10.2f}{low_fp:>10.2f}{low_fn:>10.2f}{mark}")
    return "\n".join(lines)


def _categories(files: list[FileResult], scores: list[CorpusScore]) -> str:
    categories = sorted({f.name.split("/", 1)[0] for f in files})
    head = f"{'category (at the global thresholds)':<36}" + "".join(
        f"{s.profile.name[:14]:>16}" for s in scores
    )
    lines = [head]
    for category in categories:
        chosen = [f for f in files if f.name.startswith(category + "/")]
        if not any(f.windows for f in chosen):
            cells = "".join(
                f"{sum(s.per_file_raw[f.name] for f in chosen):>12.2f} raw" for s in scores
            )
        else:
            cells = "".join(f"{category_score(s, chosen):>16.2f}" for s in scores)
        lines.append(f"{category:<36}{cells}")
    lines.append("(a category without windows shows its raw score: 0 is perfect, each FP costs)")
    return "\n".join(lines)


def _files(files: list[FileResult], score: CorpusScore) -> str:
    lines = [f"{'file (standard profile raw score)':<64}{'windows':>8}{'raw':>9}"]
    for f in files:
        lines.append(f"{f.name:<64}{len(f.windows):>8}{score.per_file_raw[f.name]:>9.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Load results and labels, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="e.g. OUT/vigil")
    parser.add_argument("--data", type=Path, required=True, help="corpus data folder or root")
    parser.add_argument("--labels", type=Path, help="combined_windows.json (default: found)")
    parser.add_argument("--per-file", action="store_true", help="also print each file's raw score")
    args = parser.parse_args(argv)
    labels = args.labels or find_labels(args.data)
    files = load_results(args.results, labels)
    print(report(args.results.name, files, args.per_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
