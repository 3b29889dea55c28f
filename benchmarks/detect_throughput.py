"""Throughput and memory of the production metrics detector alone (no bus, no Faust).

    python benchmarks/detect_throughput.py [--series 1000] [--points 1000] [--memory-series 10000]

Throughput: `--series` synthetic series (daily pattern, noise, occasional spikes and shifts,
one-minute samples) are interleaved one point at a time, as a worker sees them, through
detectors from `make_detector()`, in one thread (so on one core). Memory: `--memory-series`
detectors are created and fed enough points to allocate all their state (seasonal profiles
are fixed-size arrays allocated once the sampling step is known); the figure is the traced
Python allocation per series, with the pickled checkpoint size and the process RSS growth.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import pickle
import platform
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable

from services.detect.detectors.base import SeriesDetector
from services.detect.detectors.ensemble import EnsembleDetector, make_detector

STEP = 60.0  # seconds between samples
START = 1_700_000_000.0


def synthetic(seed: int, n: int) -> list[float]:
    """One series: daily sine, noise, rare spikes and a level shift, like a busy ops metric."""
    rng = random.Random(seed)
    base = rng.uniform(10, 1000)
    amplitude = rng.uniform(0.0, 0.3) * base
    noise = rng.uniform(0.01, 0.05) * base
    shift_at = rng.randrange(n // 2, n) if n > 2 else n
    values = []
    for i in range(n):
        v = base + amplitude * math.sin(2 * math.pi * i * STEP / 86_400) + rng.gauss(0, noise)
        if rng.random() < 0.002:
            v += 10 * noise
        if i >= shift_at:
            v += 5 * noise
        values.append(v)
    return values


def machine() -> str:
    """CPU model, core count and Python version of this machine."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{model}, {os.cpu_count()} logical CPUs, {python} on {platform.system()}"


def throughput(factory: Callable[[], SeriesDetector], series: int, points: int) -> float:
    """Points per second, interleaving series point by point, after a warm-up third."""
    data = [synthetic(seed, points) for seed in range(series)]
    detectors = [factory() for _ in range(series)]
    warm = points // 3
    for i in range(warm):  # learning phase: step estimation, counter decision, warm-up
        t = START + i * STEP
        for d, values in zip(detectors, data, strict=True):
            d.assess(t, values[i])
    gc.collect()
    started = time.perf_counter()
    for i in range(warm, points):
        t = START + i * STEP
        for d, values in zip(detectors, data, strict=True):
            d.assess(t, values[i])
    elapsed = time.perf_counter() - started
    return series * (points - warm) / elapsed


def rss_kib() -> int:
    """Current resident set size in KiB (Linux), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def memory(series: int, points: int) -> tuple[float, float, float]:
    """Traced bytes per series, mean pickled bytes per series, RSS growth per series."""
    gc.collect()
    rss_before = rss_kib()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    detectors = [make_detector() for _ in range(series)]
    rng = random.Random(1)
    for i in range(points):
        t = START + i * STEP
        for d in detectors:
            d.assess(t, 100.0 + rng.gauss(0, 5))
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    rss = (rss_kib() - rss_before) * 1024
    sample = detectors[: min(series, 200)]
    pickled = sum(len(pickle.dumps(d, protocol=5)) for d in sample) / len(sample)
    return traced / series, pickled, rss / series


def main(argv: list[str] | None = None) -> int:
    """Print throughput and memory figures with the machine they were measured on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1000, help="points per series")
    parser.add_argument("--memory-series", type=int, default=10_000)
    parser.add_argument("--memory-points", type=int, default=100)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"python: {sys.version.split()[0]}, one thread (one core)")
    for label, factory in (
        ("make_detector() (production: ensemble + fallback)", make_detector),
        ("EnsembleDetector alone", EnsembleDetector),
    ):
        rate = throughput(factory, args.series, args.points)
        print(
            f"throughput, {label}: {rate:,.0f} points/s "
            f"({1e6 / rate:.1f} us/point; {args.series} series interleaved, "
            f"{args.points} points each, first third excluded as warm-up)"
        )
    traced, pickled, rss = memory(args.memory_series, args.memory_points)
    print(
        f"memory at {args.memory_series:,} series ({args.memory_points} points each): "
        f"{traced / 1024:.1f} KiB/series traced, {pickled / 1024:.1f} KiB/series pickled "
        f"checkpoint, {rss / 1024:.1f} KiB/series RSS growth "
        f"(total traced {traced * args.memory_series / 2**20:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
