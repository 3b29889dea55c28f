"""Labelled faults and the suite of scenarios that inject them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum


class FaultKind(StrEnum):
    LEAF_LATENCY = "leaf_latency"  # a leaf answers slowly
    ERROR_BURST = "error_burst"  # a middle service fails a third of its requests
    MEMORY_LEAK = "memory_leak"  # memory climbs, GC pauses grow, the service slows down
    BAD_DEPLOY = "bad_deploy"  # a new version throws an error never seen before
    DEPENDENCY_OUTAGE = "dependency_outage"  # a dependency stops answering at all


# Which services each fault may hit (root causes of the labelled incidents).
TARGETS: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.LEAF_LATENCY: ("shipping", "cart", "postgres"),
    FaultKind.ERROR_BURST: ("catalog", "inventory", "checkout", "payments"),
    FaultKind.MEMORY_LEAK: ("catalog", "inventory", "checkout", "payments", "shipping", "cart"),
    FaultKind.BAD_DEPLOY: ("catalog", "inventory", "checkout", "payments", "shipping", "cart"),
    FaultKind.DEPENDENCY_OUTAGE: ("postgres", "shipping", "cart"),
}


@dataclass(frozen=True)
class Fault:
    """A fault of `kind` in `service` (the root cause) during [start_s, end_s) of a run."""

    kind: FaultKind
    service: str
    start_s: float
    end_s: float

    def active(self, t: float) -> bool:
        """Whether the fault is on at `t` seconds into the run."""
        return self.start_s <= t < self.end_s

    @property
    def description(self) -> str:
        return f"{self.kind.value.replace('_', ' ')} in {self.service}"


class BenignKind(StrEnum):
    """Everyday events that move metrics without being faults (an operator labels them)."""

    NIGHTLY_BATCH = "nightly_batch"  # a reindexing job: CPU up for a few minutes, same hour
    ROUTINE_DEPLOY = "routine_deploy"  # a restart in the release window: CPU blip, memory dip


@dataclass(frozen=True)
class Benign:
    """A benign event of `kind` in `service` during [start_s, end_s) of a run (not a fault)."""

    kind: BenignKind
    service: str
    start_s: float
    end_s: float

    def active(self, t: float) -> bool:
        """Whether the event is on at `t` seconds into the run."""
        return self.start_s <= t < self.end_s


@dataclass(frozen=True)
class Scenario:
    """One run: a seed, the faults it injects, its length and traffic."""

    name: str
    seed: int
    faults: tuple[Fault, ...] = ()
    duration_s: int = 4500
    rate: float = 5.0  # requests per second at the frontend
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    tenant: str = "default"
    latency_metrics: bool = False  # also export a p95 latency metric per service
    benign: tuple[Benign, ...] = ()  # everyday events that are not faults (feedback benchmark)


FAULT_START_S = (3000.0, 3300.0)  # after the metrics detectors' long warm-up
FAULT_LENGTH_S = 600.0


def scenario(
    kind: FaultKind | None, seed: int, *, duration_s: int = 4500, latency_metrics: bool = False
) -> Scenario:
    """The scenario for one fault kind (None: no fault) and seed; the target is seeded too."""
    if kind is None:
        return Scenario(f"steady/{seed}", seed, (), duration_s, latency_metrics=latency_metrics)
    rng = random.Random(f"{kind.value}/{seed}")
    service = rng.choice(TARGETS[kind])
    start = round(rng.uniform(*FAULT_START_S))
    end = min(start + FAULT_LENGTH_S, duration_s - 300.0)
    fault = Fault(kind, service, float(start), float(end))
    return Scenario(
        f"{kind.value}/{service}/{seed}",
        seed,
        (fault,),
        duration_s,
        latency_metrics=latency_metrics,
    )


def suite(
    seeds: tuple[int, ...] = (1, 2, 3), *, steady: bool = True, latency_metrics: bool = False
) -> list[Scenario]:
    """Every fault kind with every seed, plus fault-free runs (for false alarms)."""
    kinds: list[FaultKind | None] = [*FaultKind, None] if steady else [*FaultKind]
    return [
        scenario(kind, seed, latency_metrics=latency_metrics) for seed in seeds for kind in kinds
    ]


# The shop's everyday events, at the same time of night in every run (the scenario clock
# starts at midnight): a catalog reindex at 00:30 and deploys in the 00:20-00:32 window.
BATCH_START_S = 1800.0
BATCH_LENGTH_S = 240.0
DEPLOY_WINDOW_S = (1200.0, 1900.0)


def with_benign(base: Scenario) -> Scenario:
    """`base` plus a nightly batch job and a routine deploy (seeded), renamed `+benign`."""
    rng = random.Random(f"benign/{base.seed}")
    deploy = round(rng.uniform(*DEPLOY_WINDOW_S))
    events = (
        Benign(BenignKind.NIGHTLY_BATCH, "catalog", BATCH_START_S, BATCH_START_S + BATCH_LENGTH_S),
        Benign(BenignKind.ROUTINE_DEPLOY, "cart", float(deploy), float(deploy + 300)),
    )
    return replace(base, name=f"{base.name}+benign", benign=events)


def benign_suite(seeds: tuple[int, ...] = (1, 2, 3)) -> list[Scenario]:
    """The suite (every fault kind and a fault-free run per seed) with everyday events added."""
    return [with_benign(s) for s in suite(seeds)]
