"""Run scenarios through the detectors, correlate anomalies by time, score the result.

Every run streams its telemetry, second by second, through the production detectors:
`LogsMonitor` (logs), `TracesMonitor` (spans, dependency graph) and `MetricsMonitor`
(metrics). Firing anomalies are grouped into incidents by time alone: an anomaly within
`gap_s` of the previous one joins its incident. Each incident's services are ranked with
`rca.rank` over the dependency graph the traces detector built.

Scores, over all runs:

- recall: labelled faults with a firing anomaly between their start and `GRACE_S` after their
  end (the fault's incident is the one holding the first such anomaly);
- precision: incidents holding an anomaly from `LEAD_S` before a fault to `GRACE_S` after
  it, among all incidents (fault-free runs count: any incident there is a false alarm);
- rca_top1 / rca_top3: labelled faults whose root service is first / in the first three of
  the ranking of their incident (ranked on its anomalies from `LEAD_S` before the fault on);
  an undetected fault counts as a miss;
- median_time_to_detect_s: from fault start to its first anomaly, in simulated seconds, over
  detected faults.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.core.events import Anomaly
from services.demo.scenarios.faults import Fault, Scenario
from services.demo.scenarios.generator import ScenarioRun
from services.detect.logs.monitor import LogsMonitor
from services.detect.monitor import MetricsMonitor
from services.detect.rca import Cause, Symptom, rank
from services.detect.traces.monitor import TracesMonitor

GAP_S = 180.0
LEAD_S = 60.0
GRACE_S = 180.0


@dataclass
class Incident:
    """Firing anomalies close together in time."""

    anomalies: list[Anomaly] = field(default_factory=list)
    ranking: list[Cause] = field(default_factory=list)

    @property
    def first(self) -> float:
        return self.anomalies[0].timestamp.timestamp()

    @property
    def last(self) -> float:
        return self.anomalies[-1].timestamp.timestamp()

    def symptoms(self) -> list[Symptom]:
        """Each service with the time of its first anomaly."""
        first: dict[str, float] = {}
        for anomaly in self.anomalies:
            first.setdefault(anomaly.service, anomaly.timestamp.timestamp())
        return [Symptom(service, at) for service, at in first.items()]


@dataclass(frozen=True)
class Detection:
    """How a labelled fault was found: its incident, first anomaly and root-cause ranking."""

    incident: Incident
    first: float  # unix seconds of the fault's first anomaly
    ranking: list[Cause]

    def position(self, service: str) -> int:
        """Where `service` is in the ranking (-1 if absent)."""
        for index, cause in enumerate(self.ranking):
            if cause.service == service:
                return index
        return -1


@dataclass
class RunResult:
    """What one scenario run produced and how it scored."""

    scenario: Scenario
    incidents: list[Incident]
    matches: dict[Fault, Detection | None]
    spans: int = 0
    log_lines: int = 0
    metric_points: int = 0
    span_seconds: float = 0.0
    log_seconds: float = 0.0
    metric_seconds: float = 0.0
    anomalies: list[Anomaly] = field(default_factory=list)  # firing and resolved, in order

    @property
    def false_incidents(self) -> list[Incident]:
        """Incidents with no anomaly near any labelled fault."""
        base = self.scenario.start.timestamp()
        return [
            incident
            for incident in self.incidents
            if not any(
                base + f.start_s - LEAD_S <= a.timestamp.timestamp() <= base + f.end_s + GRACE_S
                for f in self.scenario.faults
                for a in incident.anomalies
            )
        ]


def correlate(anomalies: Iterable[Anomaly], gap_s: float = GAP_S) -> list[Incident]:
    """Group firing anomalies into incidents by time proximity."""
    incidents: list[Incident] = []
    for anomaly in sorted(
        (a for a in anomalies if a.status == "firing"), key=lambda a: a.timestamp
    ):
        at = anomaly.timestamp.timestamp()
        if incidents and at - incidents[-1].last <= gap_s:
            incidents[-1].anomalies.append(anomaly)
        else:
            incidents.append(Incident([anomaly]))
    return incidents


def detect(
    fault: Fault,
    incidents: list[Incident],
    graphs: list[tuple[float, dict[str, set[str]]]],
    base: float,
) -> Detection | None:
    """The incident holding the fault's first anomaly, and its ranking over the fault's time."""
    start, end = base + fault.start_s, base + fault.end_s + GRACE_S
    for incident in incidents:
        hits = [a for a in incident.anomalies if start <= a.timestamp.timestamp() <= end]
        if not hits:
            continue
        relevant = Incident(
            [a for a in incident.anomalies if a.timestamp.timestamp() >= start - LEAD_S]
        )
        calls = next((g for at, g in reversed(graphs) if at <= relevant.last), {})
        return Detection(incident, hits[0].timestamp.timestamp(), rank(calls, relevant.symptoms()))
    return None


def run(scenario: Scenario, metrics: MetricsMonitor | None = None) -> RunResult:
    """Stream one scenario through the detectors and correlate what they report.

    `metrics` may be a monitor prepared beforehand (e.g. one that learned operator feedback).
    """
    logs, traces = LogsMonitor(), TracesMonitor()
    metrics = metrics if metrics is not None else MetricsMonitor()
    anomalies: list[Anomaly] = []
    graphs: list[tuple[float, dict[str, set[str]]]] = []
    result = RunResult(scenario, [], {})
    clock = time.perf_counter
    for tick in ScenarioRun(scenario).ticks():
        started = clock()
        for span in tick.spans:
            anomalies.extend(traces.observe(span))
        spans_done = clock()
        for record in tick.logs:
            anomalies.extend(logs.observe(record))
        logs_done = clock()
        for point in tick.metrics:
            anomalies.extend(metrics.observe(point))
        result.metric_seconds += clock() - logs_done
        result.log_seconds += logs_done - spans_done
        result.span_seconds += spans_done - started
        result.spans += len(tick.spans)
        result.log_lines += len(tick.logs)
        result.metric_points += len(tick.metrics)
        if tick.second % 60 == 0 and scenario.tenant in traces.graphs:
            graphs.append((tick.at.timestamp(), traces.graphs[scenario.tenant].callees()))
    result.anomalies = anomalies
    result.incidents = correlate(anomalies)
    for incident in result.incidents:
        calls = next((g for at, g in reversed(graphs) if at <= incident.last), {})
        incident.ranking = rank(calls, incident.symptoms())
    base = scenario.start.timestamp()
    for fault in scenario.faults:
        result.matches[fault] = detect(fault, result.incidents, graphs, base)
    return result


def score(results: list[RunResult]) -> dict[str, object]:
    """The suite's figures (see the module docstring), as one JSON-ready dict."""
    faults = [(r, f, d) for r in results for f, d in r.matches.items()]
    detected = [(r, f, d) for r, f, d in faults if d is not None]
    incidents = sum(len(r.incidents) for r in results)
    false = sum(len(r.false_incidents) for r in results)
    top1 = sum(1 for _, f, d in detected if d is not None and d.position(f.service) == 0)
    top3 = sum(1 for _, f, d in detected if d is not None and 0 <= d.position(f.service) < 3)
    delays = [d.first - (r.scenario.start.timestamp() + f.start_s) for r, f, d in detected if d]
    spans = sum(r.spans for r in results)
    lines = sum(r.log_lines for r in results)
    false_by_kind: dict[str, int] = {}
    for result in results:
        for incident in result.false_incidents:
            kinds = "+".join(sorted({a.kind for a in incident.anomalies}))
            false_by_kind[kinds] = false_by_kind.get(kinds, 0) + 1
    per_kind: dict[str, dict[str, int]] = {}
    for _, fault, detection in faults:
        entry = per_kind.setdefault(fault.kind.value, {"faults": 0, "detected": 0, "top1": 0})
        entry["faults"] += 1
        if detection is not None:
            entry["detected"] += 1
            entry["top1"] += detection.position(fault.service) == 0
    return {
        "recall": _ratio(len(detected), len(faults)),
        "precision": _ratio(incidents - false, incidents),
        "rca_top1": _ratio(top1, len(faults)),
        "rca_top3": _ratio(top3, len(faults)),
        "median_time_to_detect_s": round(statistics.median(delays), 1) if delays else None,
        "faults": len(faults),
        "detected": len(detected),
        "incidents": incidents,
        "false_incidents": false,
        "false_incidents_by_kind": false_by_kind,  # which detectors raised them
        "runs": len(results),
        "log_lines": lines,
        "spans": spans,
        "metric_points": sum(r.metric_points for r in results),
        "log_lines_per_s": round(lines / max(sum(r.log_seconds for r in results), 1e-9)),
        "spans_per_s": round(spans / max(sum(r.span_seconds for r in results), 1e-9)),
        "per_kind": per_kind,
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0
