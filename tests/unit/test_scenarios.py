from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.scenarios.evaluate import correlate, run, score
from services.core.events import Anomaly
from services.demo.scenarios import model
from services.demo.scenarios.faults import TARGETS, Fault, FaultKind, Scenario, scenario, suite
from services.demo.scenarios.generator import ScenarioRun
from services.detect.logs.miner import TemplateMiner


def test_the_same_seed_yields_the_same_telemetry() -> None:
    def first_ticks(seed: int) -> list[tuple[str, ...]]:
        run = ScenarioRun(scenario(FaultKind.ERROR_BURST, seed))
        return [
            tuple(s.id for s in tick.spans) + tuple(r.body for r in tick.logs)
            for tick, _ in zip(run.ticks(), range(60), strict=False)
        ]

    assert first_ticks(3) == first_ticks(3) != first_ticks(4)


def test_at_least_six_services_emit_metrics_logs_and_traces() -> None:
    spans, logs, metrics = set(), set(), set()
    for tick, _ in zip(ScenarioRun(scenario(None, 1)).ticks(), range(120), strict=False):
        spans |= {s.service for s in tick.spans}
        logs |= {r.service for r in tick.logs}
        metrics |= {p.service for p in tick.metrics}
    assert len(set(model.INSTRUMENTED) & spans & logs & metrics) >= 6
    assert model.DATABASE in metrics  # the database exports metrics but no spans of its own
    assert len(model.edges()) >= 8


def test_every_fault_kind_is_in_the_suite_with_a_labelled_root_service() -> None:
    scenarios = suite((1, 2))
    kinds = {f.kind for s in scenarios for f in s.faults}
    assert kinds == set(FaultKind)
    for s in scenarios:
        for fault in s.faults:
            assert fault.service in TARGETS[fault.kind]
            assert 0 < fault.start_s < fault.end_s <= s.duration_s
    assert sum(1 for s in scenarios if not s.faults) == 2


def short(kind: FaultKind, service: str) -> Scenario:
    return Scenario(f"{kind}/{service}", 1, (Fault(kind, service, 60.0, 120.0),), 180)


def test_a_dependency_outage_silences_the_dependency_and_fails_its_callers() -> None:
    run = ScenarioRun(short(FaultKind.DEPENDENCY_OUTAGE, "shipping"))
    during = [t for t in run.ticks() if 70 <= t.second < 110]
    assert not any(s.service == "shipping" for t in during for s in t.spans)
    assert not any(p.service == "shipping" for t in during for p in t.metrics)
    refused = [s for t in during for s in t.spans if s.attributes.get("peer.service") == "shipping"]
    assert refused and all(s.error for s in refused)


def test_a_bad_deploy_writes_an_error_template_never_seen_before() -> None:
    miner = TemplateMiner()
    before, during = set(), set()
    for tick in ScenarioRun(short(FaultKind.BAD_DEPLOY, "payments")).ticks():
        for record in tick.logs:
            template, _ = miner.add(record.body)
            (before if tick.second < 60 else during).add(template.id)
    assert during - before


def test_time_correlation_groups_anomalies_close_in_time() -> None:
    def anomaly(service: str, second: int) -> Anomaly:
        at = datetime.fromtimestamp(1_700_000_000 + second, UTC)
        return Anomaly(
            status="firing", series=service, metric="m", service=service, timestamp=at, score=1
        )

    incidents = correlate([anomaly("a", 0), anomaly("b", 100), anomaly("c", 1000)])
    assert [[a.service for a in i.anomalies] for i in incidents] == [["a", "b"], ["c"]]


def test_a_bad_deploy_is_detected_within_a_minute_and_its_service_ranked_first() -> None:
    result = run(scenario(FaultKind.BAD_DEPLOY, 1))
    [(fault, detection)] = result.matches.items()
    assert detection is not None
    assert detection.first - result.scenario.start.timestamp() - fault.start_s <= 60
    assert detection.ranking[0].service == fault.service
    summary = score([result])
    assert summary["recall"] == 1.0 and summary["rca_top1"] == 1.0
