"""Operator feedback on the scenario suite: do false positives drop while recall holds?

    python benchmarks/feedback.py [--seeds 1,2,3] [--fresh-seeds 4,5,6,7,8] [--json]

1. Streams the scenario suite with everyday benign events (`benign_suite`: a nightly batch
   job and a routine deploy in every run, besides the labelled faults) through the production
   detectors, exactly as `benchmarks/scenarios.py` does.
2. Plays the operator: every incident with no anomaly near a labelled fault (the scenario's
   ground truth) is labelled `false_positive`, every other one `true_positive`; the labels
   become `Feedback` events carrying the incidents' signals, as the api publishes them.
3. Streams the same kind of suite again with fresh seeds, twice: once with fresh detectors
   (the baseline) and once with fresh detectors that learned the feedback through
   `FeedbackLedger` and `MetricsMonitor.learn`, as the detect worker does.

Prints recall, precision and false incidents of every pass, the drop of false positives
after feedback (against the baseline on the same streams) and the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.scenarios.evaluate import Incident, RunResult, run, score  # noqa: E402
from services.core.events import Anomaly, Feedback, FeedbackLabel, FeedbackSignal  # noqa: E402
from services.demo.scenarios.faults import benign_suite  # noqa: E402
from services.detect.feedback.ledger import FeedbackLedger  # noqa: E402
from services.detect.monitor import MetricsMonitor  # noqa: E402


def _signal(anomaly: Anomaly, resolved: dict[str, Anomaly]) -> FeedbackSignal:
    """The signal the api would attach for one firing anomaly (see api feedback service)."""
    explanation = anomaly.explanation
    end = resolved.get(anomaly.id)
    return FeedbackSignal(
        kind=anomaly.kind,
        series=anomaly.series,
        tenant=anomaly.tenant,
        service=anomaly.service,
        detector=anomaly.detector,
        fired_at=anomaly.timestamp,
        resolved_at=end.timestamp if end is not None else None,
        observed=explanation.observed if explanation else None,
        expected=explanation.expected if explanation else None,
        lower=explanation.lower if explanation else None,
        upper=explanation.upper if explanation else None,
    )


def _resolutions(result: RunResult) -> dict[str, Anomaly]:
    """Each firing anomaly's id -> the resolved anomaly that ended it (same series)."""
    open_by_series: dict[str, Anomaly] = {}
    ended: dict[str, Anomaly] = {}
    for anomaly in result.anomalies:
        if anomaly.status == "firing":
            open_by_series[anomaly.series] = anomaly
        elif anomaly.series in open_by_series:
            ended[open_by_series.pop(anomaly.series).id] = anomaly
    return ended


def label(results: list[RunResult]) -> list[Feedback]:
    """The operator's labels: false positives from the ground truth, the rest true positives."""
    feedback: list[Feedback] = []
    for result in results:
        resolved = _resolutions(result)
        false = {id(i) for i in result.false_incidents}
        for number, incident in enumerate(result.incidents):
            benign = id(incident) in false
            feedback.append(_feedback(result, number, incident, benign, resolved))
    return feedback


def _feedback(
    result: RunResult, number: int, incident: Incident, benign: bool, resolved: dict[str, Anomaly]
) -> Feedback:
    return Feedback(
        id=f"{result.scenario.name}#{number}",
        incident_id=f"{result.scenario.name}#{number}",
        label=FeedbackLabel.FALSE_POSITIVE if benign else FeedbackLabel.TRUE_POSITIVE,
        author="benchmark",
        signals=[_signal(a, resolved) for a in incident.anomalies],
    )


def stream(seeds: tuple[int, ...], ledger: FeedbackLedger | None) -> list[RunResult]:
    """Run the benign suite; with a ledger, every run's detectors learned its labels first."""
    results = []
    for scenario in benign_suite(seeds):
        monitor = MetricsMonitor()
        if ledger is not None:
            for key, labels in ledger.labels.items():
                monitor.learn(key, labels)
        results.append(run(scenario, monitor))
    return results


def _figures(results: list[RunResult]) -> dict[str, object]:
    summary = score(results)
    keep = ("recall", "precision", "faults", "detected", "incidents", "false_incidents")
    figures = {k: summary[k] for k in keep}
    figures["false_incidents_by_kind"] = summary["false_incidents_by_kind"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the labelled pass")
    parser.add_argument("--fresh-seeds", default="4,5,6,7,8", help="seeds of the second pass")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    fresh = tuple(int(s) for s in args.fresh_seeds.split(",") if s.strip())
    began = time.perf_counter()
    first = stream(seeds, None)
    feedback = label(first)
    ledger = FeedbackLedger()
    for event in feedback:
        ledger.add(event)
    baseline = stream(fresh, None)
    learned = stream(fresh, ledger)
    before = _figures(baseline)
    after = _figures(learned)
    false_before = int(str(before["false_incidents"]))
    false_after = int(str(after["false_incidents"]))
    report = {
        "labelled_pass": {"seeds": list(seeds), **_figures(first)},
        "labels": {
            "false_positive": sum(f.label is FeedbackLabel.FALSE_POSITIVE for f in feedback),
            "true_positive": sum(f.label is FeedbackLabel.TRUE_POSITIVE for f in feedback),
            "series_labelled": len(ledger.labels),
        },
        "fresh_pass_without_feedback": {"seeds": list(fresh), **before},
        "fresh_pass_with_feedback": {"seeds": list(fresh), **after},
        "false_positive_drop": round(1 - false_after / false_before, 4) if false_before else None,
        "seconds": round(time.perf_counter() - began, 1),
        "machine": describe(),
    }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
