"""A synthetic fleet of services emitting metrics, with labelled faults. Pure and seeded."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Fault:
    """An injected fault: `metric` of `service` is multiplied by `factor` during [start, end)."""

    service: str
    metric: str
    start: int
    end: int
    factor: float
    description: str


@dataclass(frozen=True)
class MetricShape:
    name: str
    base: float
    noise: float
    daily_amplitude: float  # fraction of base


SERVICES = ("frontend", "checkout", "payments", "catalog")
SHAPES = (
    MetricShape("http_request_duration_ms", base=120.0, noise=4.0, daily_amplitude=0.15),
    MetricShape("cpu_utilization", base=0.45, noise=0.015, daily_amplitude=0.2),
)
DEFAULT_FAULTS = (
    Fault("checkout", "http_request_duration_ms", 150, 200, 4.0, "checkout latency spike"),
    Fault("payments", "cpu_utilization", 250, 290, 1.9, "payments CPU saturation"),
)


class Workload:
    """Generates one batch of points per tick; a tick is `step` of simulated time."""

    def __init__(
        self,
        *,
        seed: int = 7,
        start: datetime,
        step: timedelta = timedelta(seconds=10),
        faults: tuple[Fault, ...] = DEFAULT_FAULTS,
        period_ticks: int = 288,
    ) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.step = step
        self.faults = faults
        self.period_ticks = period_ticks
        # Faults cut short by a remediation (a restart of their service), and from when.
        self.healed: dict[Fault, int] = {}

    def heal(self, service: str, tick: int) -> list[Fault]:
        """A restart of `service` at `tick` ends the faults active on it; returns them."""
        ended = [f for f in self.active_faults(tick) if f.service == service]
        for fault in ended:
            self.healed[fault] = tick
        return ended

    def at(self, tick: int) -> datetime:
        """Simulated time of a tick."""
        return self.start + tick * self.step

    def active_faults(self, tick: int) -> list[Fault]:
        return [f for f in self.faults if f.start <= tick < min(f.end, self.healed.get(f, f.end))]

    def batch(self, tick: int) -> list[dict[str, Any]]:
        """All points of one tick, in Vigil's native JSON point format."""
        phase = 2 * math.pi * tick / self.period_ticks
        timestamp = self.at(tick).isoformat()
        points = []
        for service in SERVICES:
            for shape in SHAPES:
                value = shape.base * (1 + shape.daily_amplitude * math.sin(phase))
                value += self.rng.gauss(0.0, shape.noise)
                for fault in self.active_faults(tick):
                    if fault.service == service and fault.metric == shape.name:
                        value *= fault.factor
                points.append(
                    {
                        "name": shape.name,
                        "labels": {"service": service, "env": "demo"},
                        "value": round(max(value, 0.0), 6),
                        "timestamp": timestamp,
                    }
                )
        return points
