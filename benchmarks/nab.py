"""Stream NAB-style corpora through the production metrics detector and write NAB result files.

    python benchmarks/nab.py --data DIR --out DIR [--name NAME]

Every `DIR/<category>/<file>.csv` (columns timestamp,value) is fed one row at a time, in file
order, to a fresh detector from `make_detector()` (the factory the platform uses), with
timestamps parsed to unix seconds (naive timestamps are UTC). Each row's score is written to
`OUT/<NAME>/<category>/<NAME>_<file>.csv` with columns timestamp,value,anomaly_score. No row
ever sees a later one, and no labels are read.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from services.detect.detectors.ensemble import make_detector


def unix_seconds(text: str) -> float:
    """Unix seconds of an ISO timestamp; naive timestamps are taken as UTC."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def stream_file(source: Path, target: Path) -> tuple[int, float, int]:
    """Score one file row by row; return (rows, highest score, detector failures)."""
    detector = make_detector()
    rows = 0
    highest = 0.0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open(newline="") as inp, target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for row in csv.DictReader(inp):
            stamp, raw = row["timestamp"], row["value"]
            score = detector.assess(unix_seconds(stamp), float(raw)).score
            writer.writerow([stamp, raw, repr(score)])
            highest = max(highest, score)
            rows += 1
    return rows, highest, int(getattr(detector, "failures", 0))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark over every category folder of --data."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of <category>/<file>.csv")
    parser.add_argument("--out", type=Path, required=True, help="results root")
    parser.add_argument("--name", default="vigil", help="detector name in result paths")
    args = parser.parse_args(argv)
    files = sorted(args.data.glob("*/*.csv"))
    if not files:
        print(f"no <category>/<file>.csv under {args.data}", file=sys.stderr)
        return 2
    total_rows = 0
    total_failures = 0
    started = time.perf_counter()
    for source in files:
        category = source.parent.name
        target = args.out / args.name / category / f"{args.name}_{source.name}"
        t0 = time.perf_counter()
        rows, highest, failures = stream_file(source, target)
        elapsed = time.perf_counter() - t0
        total_rows += rows
        total_failures += failures
        print(
            f"{category}/{source.name}: {rows} rows in {elapsed:.2f}s "
            f"({rows / max(elapsed, 1e-9):,.0f} rows/s incl. I/O), max score {highest:.3f}"
            + (f", {failures} model failure(s)" if failures else ""),
            flush=True,
        )
    elapsed = time.perf_counter() - started
    print(
        f"{len(files)} files, {total_rows} rows in {elapsed:.1f}s; "
        f"model failures: {total_failures}; results in {args.out / args.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
