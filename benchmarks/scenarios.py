"""Score the logs, traces and metrics detectors, and root-cause ranking, on labelled scenarios.

    python benchmarks/scenarios.py --json [--seeds 1,2,3,4] [--latency-metrics]

Every fault kind of `benchmarks/scenarios` (latency in a leaf, error burst in a middle service,
memory leak, bad deploy bringing a new error template, dependency outage) runs with every
seed, plus a fault-free run per seed. Each run streams about 75 minutes of simulated
telemetry of an eight-service shop, second by second, through the production detectors
(`LogsMonitor`, `TracesMonitor`, `MetricsMonitor`); anomalies are grouped into incidents by
time and each incident's services are ranked by `services.detect.rca.rank` over the
dependency graph the traces detector built. See `benchmarks/scenarios/evaluate.py` for the
exact definitions of recall, precision, rca_top1/3 and time to detect.

Throughput figures are the time spent inside `LogsMonitor.observe` and
`TracesMonitor.observe` (one thread, so one core), over all runs.
With --json, one JSON object is printed; otherwise a table per run, then the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scenarios.evaluate import RunResult, run, score  # noqa: E402
from services.demo.scenarios.faults import suite  # noqa: E402


def _describe(result: RunResult) -> str:
    parts = [result.scenario.name, f"incidents={len(result.incidents)}"]
    base = result.scenario.start.timestamp()
    for fault, detection in result.matches.items():
        if detection is None:
            parts.append("MISSED")
            continue
        top = ",".join(c.service for c in detection.ranking[:3])
        parts.append(f"detected +{detection.first - base - fault.start_s:.0f}s top3=[{top}]")
    if result.false_incidents:
        parts.append(f"false={len(result.false_incidents)}")
    return "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--seeds", default="1,2,3,4", help="comma-separated seeds")
    parser.add_argument(
        "--latency-metrics",
        action="store_true",
        help="also export a p95 latency metric per service (more metric series)",
    )
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    results = []
    for scenario in suite(seeds, latency_metrics=args.latency_metrics):
        result = run(scenario)
        results.append(result)
        if not args.json:
            print(_describe(result), flush=True)
    summary = score(results)
    summary["seeds"] = list(seeds)
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
