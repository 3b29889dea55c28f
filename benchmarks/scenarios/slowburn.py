"""Slow-burn scenarios: a memory leak or a disk filling up until the service fails, beside
benign look-alikes (a cache warming up, logs rotated before the disk is full, a batch job).

Pure and seeded. Each run reports, every `STEP_S` seconds, a service's memory and disk usage
with their limits, its request rate (a daily swell) and its error ratio, for `duration_s`
seconds. A faulty run fails at `failure_s` (the resource reaches its limit: an OOM kill, a
full disk), which is when its real incident opens; benign runs never fail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.core.events import MetricPoint

STEP_S = 30
GIB = 2**30


class SlowBurn(StrEnum):
    MEMORY_LEAK = "memory_leak"  # memory climbs steadily until the limit (OOM kill)
    DISK_FILL = "disk_fill"  # the disk fills until full
    CACHE_WARMUP = "cache_warmup"  # benign: memory climbs fast, then levels off
    LOG_ROTATION = "log_rotation"  # benign: disk grows, then logs are rotated away
    BATCH_JOB = "batch_job"  # benign: memory rises for a while, then is released
    STEADY = "steady"  # benign: nothing happens

    @property
    def fails(self) -> bool:
        return self in (SlowBurn.MEMORY_LEAK, SlowBurn.DISK_FILL)


SERVICES = ("catalog", "inventory", "checkout", "payments", "shipping", "cart")


@dataclass(frozen=True)
class SlowBurnRun:
    """One run: a service, what happens to it, from when, and when (if ever) it fails."""

    kind: SlowBurn
    seed: int
    service: str
    onset_s: float  # when the fault or the benign change starts
    ramp_s: float  # how long the leak takes to the limit (or the benign change lasts)
    duration_s: float
    start: datetime

    @property
    def failure_s(self) -> float | None:
        """Seconds into the run at which the service fails (None: it does not)."""
        return self.onset_s + self.ramp_s if self.kind.fails else None

    @property
    def name(self) -> str:
        return f"{self.kind.value}/{self.service}/{self.seed}"


def slowburn_run(kind: SlowBurn, seed: int, start: datetime | None = None) -> SlowBurnRun:
    """The run of `kind` with `seed` (service, onset and ramp seeded too)."""
    rng = random.Random(f"slowburn/{kind.value}/{seed}")
    onset = rng.uniform(3600, 5400)  # after an hour or more of normal life
    ramp = rng.uniform(45 * 60, 150 * 60) if kind.fails else rng.uniform(15 * 60, 40 * 60)
    duration = onset + ramp + 1800 if kind.fails else onset + ramp + 7200
    return SlowBurnRun(
        kind,
        seed,
        rng.choice(SERVICES),
        onset,
        ramp,
        duration,
        start or datetime(2026, 1, 1, tzinfo=UTC),
    )


def suite(seeds: tuple[int, ...] = tuple(range(1, 9))) -> list[SlowBurnRun]:
    """Every kind with every seed."""
    return [slowburn_run(kind, seed) for seed in seeds for kind in SlowBurn]


def telemetry(run: SlowBurnRun) -> Iterator[MetricPoint]:
    """The run's metric points, in time order (stops at the failure: the service is gone)."""
    rng = random.Random(f"telemetry/{run.name}")
    memory_limit, disk_limit = 2 * GIB, 50 * GIB
    memory_base = memory_limit * rng.uniform(0.35, 0.55)
    disk_base = disk_limit * rng.uniform(0.4, 0.6)
    end = run.failure_s if run.failure_s is not None else run.duration_s
    labels = {"service": run.service}
    t = 0.0
    while t < end:
        memory, disk = memory_base, disk_base
        into = t - run.onset_s
        progress = min(max(into / run.ramp_s, 0.0), 1.0)
        if run.kind is SlowBurn.MEMORY_LEAK:
            memory += (memory_limit - memory_base) * progress
        elif run.kind is SlowBurn.DISK_FILL:
            disk += (disk_limit - disk_base) * progress
        elif run.kind is SlowBurn.CACHE_WARMUP and into > 0:
            memory += memory_limit * 0.25 * (1 - math.exp(-into / (run.ramp_s / 3)))
        elif run.kind is SlowBurn.LOG_ROTATION and into > 0:
            cycle = into % (run.ramp_s + 600)
            disk += disk_limit * 0.25 * min(cycle / run.ramp_s, 1.0)
        elif run.kind is SlowBurn.BATCH_JOB and 0 < into < run.ramp_s:
            memory += memory_limit * 0.3 * min(into / 300, 1.0)
        swell = 1 + 0.3 * math.sin(2 * math.pi * t / 86_400)
        values = {
            "memory_bytes": memory * (1 + rng.gauss(0, 0.01)),
            "memory_limit_bytes": memory_limit,
            "disk_used_bytes": disk * (1 + rng.gauss(0, 0.002)),
            "disk_limit_bytes": disk_limit,
            "http_requests_per_second": max(20 * swell + rng.gauss(0, 1.5), 0.0),
            "http_error_ratio": max(0.002 + rng.gauss(0, 0.001), 0.0),
        }
        at = run.start + timedelta(seconds=t)
        for name, value in values.items():
            yield MetricPoint(name=name, labels=labels, value=value, timestamp=at)
        t += STEP_S
