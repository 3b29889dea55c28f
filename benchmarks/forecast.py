"""Load-forecast accuracy of the online seasonal forecaster beside seasonal-naive baselines.

    python benchmarks/forecast.py --data ../shared/datasets/nab-dev [--horizons 1,2,6]

Each traffic-like series (default: realKnownCause/nyc_taxi.csv, half-hourly taxi passengers
over seven months, with daily and weekly seasons) is streamed row by row through
`SeasonalForecaster`, bucketed at the series' own sampling interval. Before a bucket's value
is seen, the forecast made `h` buckets earlier is recorded (online: no row sees a later one).
The baselines forecast a bucket by the value one season earlier (seasonal naive, daily and
weekly). All methods are scored on the same buckets: those after the first week (so
that the weekly baseline exists for every scored bucket). Printed: MAE and sMAPE per method
and horizon, and the machine.

The forecaster's constants are fixed in `ForecastPolicy`; nothing here is tuned on the
scored series.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from services.detect.forecast.seasonal import (  # noqa: E402
    DAY_S,
    WEEK_S,
    ForecastPolicy,
    SeasonalForecaster,
)

DEFAULT_SERIES = ("realKnownCause/nyc_taxi.csv",)
ARTIFICIAL = (
    "artificialNoAnomaly/art_daily_small_noise.csv",
    "artificialWithAnomaly/art_daily_nojump.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
)


def load(path: Path) -> list[tuple[float, float]]:
    """(unix seconds, value) rows of a NAB csv; naive timestamps are UTC."""
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            moment = datetime.fromisoformat(row["timestamp"].strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            rows.append((moment.timestamp(), float(row["value"])))
    return rows


def step_of(rows: list[tuple[float, float]]) -> int:
    """The most common sampling interval, in seconds."""
    gaps: dict[int, int] = {}
    for (a, _), (b, _) in zip(rows, rows[1:], strict=False):
        gap = int(round(b - a))
        gaps[gap] = gaps.get(gap, 0) + 1
    return max(gaps, key=lambda g: gaps[g])


class Errors:
    """Running MAE and sMAPE."""

    def __init__(self) -> None:
        self.abs = 0.0
        self.smape = 0.0
        self.n = 0

    def add(self, forecast: float, actual: float) -> None:
        self.abs += abs(forecast - actual)
        denominator = abs(forecast) + abs(actual)
        self.smape += 0.0 if denominator == 0 else 2 * abs(forecast - actual) / denominator
        self.n += 1

    @property
    def mae(self) -> float:
        return self.abs / max(self.n, 1)

    @property
    def smape_pct(self) -> float:
        return 100 * self.smape / max(self.n, 1)


def evaluate(rows: list[tuple[float, float]], horizons: list[int]) -> dict[str, Errors]:
    """Stream one series; errors of ours and of the baselines per horizon."""
    step = step_of(rows)
    model = SeasonalForecaster(ForecastPolicy(step_s=step))
    daily_n, weekly_n = DAY_S // step, WEEK_S // step
    buckets: dict[int, float] = {}  # bucket index -> value (one row per bucket here)
    pending: dict[int, deque[tuple[int, float]]] = {h: deque() for h in horizons}
    errors = {f"{name} h={h}": Errors() for h in horizons for name in ("vigil", "daily", "weekly")}
    first = int(rows[0][0] // step)
    for t, value in rows:
        index = int(t // step)
        # Score every forecast made for this bucket, before learning it.
        for h in horizons:
            queue = pending[h]
            while queue and queue[0][0] < index:
                queue.popleft()
            if queue and queue[0][0] == index and index - first >= weekly_n:
                _, predicted = queue.popleft()
                if index - daily_n in buckets and index - weekly_n in buckets:
                    errors[f"vigil h={h}"].add(predicted, value)
                    errors[f"daily h={h}"].add(buckets[index - daily_n], value)
                    errors[f"weekly h={h}"].add(buckets[index - weekly_n], value)
        model.learn_bucket(index, value)  # one row per bucket: it is closed at once
        buckets[index] = value
        forecast = model.forecast(max(horizons))
        for h in horizons:
            pending[h].append((index + h, forecast[h - 1]))
    return errors


def main(argv: list[str] | None = None) -> int:
    """Score every selected series and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="NAB root (holds data/)")
    parser.add_argument("--horizons", default="1,2,6", help="buckets ahead, comma-separated")
    parser.add_argument(
        "--only",
        choices=("traffic", "artificial"),
        default="traffic",
        help="traffic: the reported series; artificial: the series the constants were set on",
    )
    args = parser.parse_args(argv)
    root = args.data / "data" if (args.data / "data").is_dir() else args.data
    horizons = sorted({int(h) for h in args.horizons.split(",")})
    if not horizons or horizons[0] < 1:
        print("--horizons must be positive integers", file=sys.stderr)
        return 2
    names = DEFAULT_SERIES if args.only == "traffic" else ARTIFICIAL
    print(f"machine: {describe()}")
    worse = 0
    for name in names:
        path = root / name
        if not path.is_file():
            print(f"{name}: missing under {root}", file=sys.stderr)
            return 2
        rows = load(path)
        started = time.perf_counter()
        errors = evaluate(rows, horizons)
        elapsed = time.perf_counter() - started
        print(f"\n{name}: {len(rows)} rows, step {step_of(rows)} s, {elapsed:.2f} s")
        print(f"  {'method':<16}{'scored':>8}{'MAE':>12}{'sMAPE %':>10}")
        for label, e in errors.items():
            print(f"  {label:<16}{e.n:>8}{e.mae:>12.1f}{e.smape_pct:>10.2f}")
        for h in horizons:
            ours = errors[f"vigil h={h}"]
            best = min((errors[f"daily h={h}"], errors[f"weekly h={h}"]), key=lambda e: e.mae)
            better = ours.mae < best.mae and ours.smape_pct < best.smape_pct
            worse += 0 if better else 1
            print(
                f"  h={h}: vigil MAE {ours.mae:.1f} vs best seasonal-naive {best.mae:.1f} "
                f"({100 * (1 - ours.mae / best.mae):+.1f}% better); "
                + ("lower MAE and sMAPE" if better else "NOT better")
            )
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
