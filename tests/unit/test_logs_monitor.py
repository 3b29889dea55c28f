from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.core.events import Anomaly, LogRecord, Severity
from services.detect.logs.monitor import LogPolicy, LogsMonitor

START = datetime(2026, 1, 1, tzinfo=UTC)


def record(
    second: float, body: str, severity: Severity = Severity.INFO, service: str = "checkout"
) -> LogRecord:
    return LogRecord(
        timestamp=START + timedelta(seconds=second), service=service, severity=severity, body=body
    )


def steady(monitor: LogsMonitor, seconds: int, *, per_second: int = 5) -> list[Anomaly]:
    """Everyday traffic: access lines, chatter, and a known error now and then."""
    out: list[Anomaly] = []
    for s in range(seconds):
        for i in range(per_second):
            out += monitor.observe(record(s + i / per_second, f"GET /cart/{s * 7 + i} 200 {i}ms"))
        out += monitor.observe(record(s + 0.5, f"cart c{s} has {s % 9} items"))
        if s % 60 == 30:
            out += monitor.observe(record(s + 0.7, f"order {s} rejected", Severity.ERROR))
    return out


def firing(anomalies: list[Anomaly], detector: str) -> list[Anomaly]:
    return [a for a in anomalies if a.status == "firing" and a.detector == detector]


def test_a_new_error_template_fires_naming_the_template_and_quoting_lines() -> None:
    monitor = LogsMonitor()
    assert steady(monitor, 600) == []
    out: list[Anomaly] = []
    for i in range(3):
        line = f"unhandled NullPointerException in PriceHandler.handle at line {40 + i}"
        out += monitor.observe(record(600 + i, line, Severity.ERROR))
    [anomaly] = firing(out, "log_new_template")
    assert anomaly.kind == "log" and anomaly.service == "checkout"
    assert anomaly.severity is Severity.ERROR
    assert anomaly.explanation is not None
    detail = anomaly.explanation.detail
    assert '"unhandled NullPointerException in PriceHandler.handle at line <*>"' in detail
    assert '"unhandled NullPointerException in PriceHandler.handle at line 40"' in detail
    assert anomaly.labels["template_id"] in detail


def test_new_templates_while_warming_up_or_at_info_level_do_not_fire() -> None:
    monitor = LogsMonitor()
    out = [
        a
        for i in range(3)
        for a in monitor.observe(record(10 + i, f"cache cold for region {i}", Severity.ERROR))
    ]
    out += steady(monitor, 600)
    for i in range(5):
        out += monitor.observe(record(700 + i, f"feature flag {i} enabled for tenant t{i}"))
    assert firing(out, "log_new_template") == []


def test_a_lone_new_warning_does_not_fire() -> None:
    monitor = LogsMonitor()
    steady(monitor, 600)
    out = monitor.observe(record(601, "certificate expires in 29 days", Severity.WARNING))
    out += steady_tail(monitor, 601, 200)
    assert firing(out, "log_new_template") == []


def steady_tail(monitor: LogsMonitor, start: int, seconds: int) -> list[Anomaly]:
    out: list[Anomaly] = []
    for s in range(start, start + seconds):
        out += monitor.observe(record(s, f"GET /cart/{s} 200 3ms"))
    return out


def test_the_new_template_anomaly_resolves_once_the_template_is_quiet() -> None:
    policy = LogPolicy()
    monitor = LogsMonitor(policy)
    steady(monitor, 600)
    out: list[Anomaly] = []
    for i in range(3):
        out += monitor.observe(
            record(600 + i, f"KeyError: 'currency' for item {i}", Severity.ERROR)
        )
    out += steady_tail(monitor, 603, int(policy.new_quiet_s) + 30)
    statuses = [a.status for a in out if a.detector == "log_new_template"]
    assert statuses == ["firing", "resolved"]


def test_an_error_burst_fires_with_the_top_template_and_resolves() -> None:
    monitor = LogsMonitor()
    steady(monitor, 600)
    out: list[Anomaly] = []
    for s in range(600, 630):
        for i in range(5):
            out += monitor.observe(record(s + i / 5, f"order {s}{i} rejected", Severity.ERROR))
        out += monitor.observe(record(s + 0.9, f"GET /cart/{s} 200 3ms"))
    out += steady_tail(monitor, 630, 120)
    burst = [a for a in out if a.detector == "log_error_burst"]
    assert [a.status for a in burst] == ["firing", "resolved"]
    assert burst[0].explanation is not None
    assert '"order <*> rejected"' in burst[0].explanation.detail


def test_a_template_whose_rate_jumps_fires_a_rate_anomaly() -> None:
    monitor = LogsMonitor()
    steady(monitor, 600)
    out: list[Anomaly] = []
    for s in range(600, 660):
        for i in range(30):
            out += monitor.observe(record(s + i / 30, f"cart c{s}{i} has {i % 9} items"))
        for i in range(5):
            out += monitor.observe(record(s + i / 5, f"GET /cart/{s * 7 + i} 200 {i}ms"))
    [anomaly] = firing(out, "log_template_rate")
    assert anomaly.labels["template"] == "cart <*> has <*> items"
    assert anomaly.explanation is not None
    assert anomaly.explanation.observed > anomaly.explanation.upper


def test_templates_survive_a_restart_through_the_checkpoint() -> None:
    first = LogsMonitor()
    steady(first, 600)
    for i in range(3):
        first.observe(record(600 + i, f"disk full on volume v{i}", Severity.ERROR))
    blob = first.snapshot("default/checkout")
    assert blob is not None
    second = LogsMonitor()
    assert second.restore("default/checkout", blob)
    assert second.templates("default/checkout") == first.templates("default/checkout")
    # The template is known now: it repeating after the restart is not new again.
    out = [
        a
        for i in range(5)
        for a in second.observe(record(700 + i, f"disk full on volume v{i}", Severity.ERROR))
    ]
    assert firing(out, "log_new_template") == []


def test_replaying_the_same_records_yields_the_same_anomaly_ids() -> None:
    def run() -> list[str]:
        monitor = LogsMonitor()
        out = steady(monitor, 600)
        for s in range(600, 640):
            for i in range(5):
                out += monitor.observe(record(s + i / 5, f"boom {s}{i} failed", Severity.ERROR))
        return [a.id for a in out]

    assert run() == run() != []


def test_a_corrupt_checkpoint_means_a_cold_start() -> None:
    assert not LogsMonitor().restore("default/checkout", b"not a checkpoint")
