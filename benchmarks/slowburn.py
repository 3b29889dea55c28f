"""Failure prediction on slow-burn faults: lead time before the failure, and precision.

    python benchmarks/slowburn.py [--seeds 1-8] [--json]

Runs the slow-burn suite of `benchmarks/scenarios/slowburn.py` (memory leaks and disks
filling up until the service fails, beside a cache warming up, logs rotated before the disk
is full, a batch job and steady runs) through the production `Intelligence` (the predictor
the detect service runs). All runs share one predictor and one clock, one after the other
with an hour between them, so that the per-service River classifiers learn from the real
incidents (one opens at every failure) as they would in production.

- alarm: a failure prediction turning "firing" (what opens a predicted incident);
- an alarm is right when its service fails within the horizon after it, else a false alarm;
- lead time of a fault: from its first right alarm to the failure (0 if none: a miss);
- precision: right alarms / all alarms; recall: faults with an alarm before failing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.scenarios.slowburn import SlowBurnRun, suite, telemetry  # noqa: E402
from services.core.events import (  # noqa: E402
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    Severity,
)
from services.detect.predict.engine import Intelligence  # noqa: E402


def run_suite(runs: list[SlowBurnRun]) -> dict[str, object]:
    """Stream every run through one predictor; score the alarms."""
    intelligence = Intelligence()
    horizon = intelligence.policy.failure.horizon_s
    leads: list[float] = []
    right = wrong = missed = 0
    per_run = []
    clock = runs[0].start
    points = 0
    started = time.perf_counter()
    for run in runs:
        run = replace(run, start=clock)
        alarms: list[float] = []
        for point in telemetry(run):
            points += 1
            for p in intelligence.observe_point(point):
                if p.kind == "failure" and p.status == "firing":
                    alarms.append((p.timestamp - run.start).total_seconds())
        failure = run.failure_s
        if failure is not None:
            at = run.start + timedelta(seconds=failure)
            intelligence.observe_incident(_incident(run, at))
        good = [a for a in alarms if failure is not None and failure - horizon <= a <= failure]
        right += len(good)
        wrong += len(alarms) - len(good)
        if failure is not None:
            if good:
                leads.append(failure - good[0])
            else:
                missed += 1
        per_run.append(
            {
                "run": run.name,
                "fails_at_s": failure,
                "alarms_s": [round(a) for a in alarms],
                "lead_s": round(failure - good[0]) if failure is not None and good else None,
            }
        )
        clock = run.start + timedelta(seconds=run.duration_s + 3600)
    elapsed = time.perf_counter() - started
    faults = sum(1 for r in runs if r.failure_s is not None)
    trained = sum(1 for v in intelligence.services.values() if v.model.trained)
    return {
        "runs": len(runs),
        "faults": faults,
        "alarms": right + wrong,
        "precision": right / (right + wrong) if right + wrong else 0.0,
        "recall": (faults - missed) / faults if faults else 0.0,
        "median_lead_time_s": statistics.median(leads) if leads else 0.0,
        "min_lead_time_s": min(leads) if leads else 0.0,
        "services_with_trained_classifier": trained,
        "points": points,
        "seconds": round(elapsed, 1),
        "per_run": per_run,
    }


def _incident(run: SlowBurnRun, at: object) -> IncidentEvent:
    return IncidentEvent(
        type=IncidentEventType.OPENED,
        incident_id=f"failure/{run.name}",
        title=f"{run.kind.value} took {run.service} down",
        service=run.service,
        severity=Severity.CRITICAL,
        status=IncidentStatus.OPEN,
        opened_at=at,
        services=[run.service],
    )


def _seeds(text: str) -> tuple[int, ...]:
    if "-" in text:
        low, high = text.split("-", 1)
        return tuple(range(int(low), int(high) + 1))
    return tuple(int(s) for s in text.split(","))


def main(argv: list[str] | None = None) -> int:
    """Run the suite, print the figures and the machine; exit 1 below the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-8", help="e.g. 1-8 or 1,2,3")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--runs", action="store_true", help="also print every run")
    args = parser.parse_args(argv)
    result = run_suite(suite(_seeds(args.seeds)))
    result["machine"] = describe()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        if args.runs:
            for row in result["per_run"]:  # type: ignore[attr-defined]
                print(row)
        print(f"machine: {result['machine']}")
        print(
            f"{result['runs']} runs ({result['faults']} failing), {result['points']} points "
            f"in {result['seconds']} s"
        )
        print(
            f"alarms {result['alarms']}, precision {result['precision']:.3f}, "
            f"recall {result['recall']:.3f}"
        )
        print(
            f"median lead time {float(result['median_lead_time_s']) / 60:.1f} min "  # type: ignore[arg-type]
            f"(shortest {float(result['min_lead_time_s']) / 60:.1f} min); "  # type: ignore[arg-type]
            f"services whose classifier is trained: {result['services_with_trained_classifier']}"
        )
    ok = float(result["precision"]) >= 0.8 and float(result["median_lead_time_s"]) >= 600  # type: ignore[arg-type]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
