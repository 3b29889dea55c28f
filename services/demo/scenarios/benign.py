"""How everyday, non-fault events move a service's metrics (pure, deterministic shapes).

A nightly batch job lifts CPU for its length (ramping up and down over half a minute); a
routine deploy restarts the service: a minute of start-up CPU, and a heap that starts a
quarter smaller and refills over a few minutes. Operators label the incidents these raise as
false positives; `benchmarks/feedback.py` checks that the detectors learn from that.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from services.demo.scenarios.faults import Benign, BenignKind

BATCH_CPU = 0.22
RAMP_S = 30.0
DEPLOY_CPU = 0.1
DEPLOY_CPU_S = 60.0
DEPLOY_HEAP_DIP = 0.25
HEAP_REFILL_S = 120.0


def adjust(events: Iterable[Benign], service: str, t: float, values: dict[str, float]) -> None:
    """Apply the effect of every benign event of `service` on at `t` to its metric values."""
    for event in events:
        if event.service != service or not event.active(t):
            continue
        since = t - event.start_s
        if event.kind is BenignKind.NIGHTLY_BATCH:
            ramp = min(1.0, since / RAMP_S, (event.end_s - t) / RAMP_S)
            values["cpu_utilization"] += BATCH_CPU * max(ramp, 0.0)
        elif event.kind is BenignKind.ROUTINE_DEPLOY:
            if since < DEPLOY_CPU_S:
                values["cpu_utilization"] += DEPLOY_CPU
            values["memory_bytes"] *= 1.0 - DEPLOY_HEAP_DIP * math.exp(-since / HEAP_REFILL_S)


def deploy_starts(events: Iterable[Benign], second: int) -> list[Benign]:
    """Routine deploys starting at `second` (they write a 'deployed version' line)."""
    return [e for e in events if e.kind is BenignKind.ROUTINE_DEPLOY and int(e.start_s) == second]
