"""Anomaly events for trace detectors, with explanations in latency, error and call terms."""

from __future__ import annotations

from datetime import UTC, datetime

from services.core.events import Anomaly, Explanation, Severity, stable_id
from services.detect.traces.stats import WindowReport


def _event(
    *,
    tenant: str,
    service: str,
    peer: str | None,
    operation: str,
    signal: str,
    status: str,
    end: float,
    score: float,
    severity: Severity,
    explanation: Explanation,
) -> Anomaly:
    at = datetime.fromtimestamp(end, UTC)
    labels = {"service": peer or service, "operation": operation}
    if peer:
        # A client span measures the service it called: report it there.
        labels["caller"] = service
        series = f"trace:{service}->{peer}:{operation}:{signal}"
    else:
        series = f"trace:{service}:{operation}:{signal}"
    return Anomaly(
        id=stable_id("anomaly", tenant, series, status, at.isoformat()),
        status="firing" if status == "firing" else "resolved",
        series=series,
        metric=f"trace_{signal}",
        service=peer or service,
        labels=labels,
        timestamp=at,
        score=min(1.0, max(0.0, score)),
        severity=severity,
        kind="trace",
        detector=f"trace_{signal}",
        explanation=explanation,
        tenant=tenant,
    )


def latency_anomaly(
    tenant: str,
    service: str,
    peer: str | None,
    operation: str,
    report: WindowReport,
    status: str,
    end: float,
) -> Anomaly:
    """p50 or p99 latency of an operation rose well above its baseline (or recovered)."""
    ratio = report.p99 / report.expected_p99 if report.expected_p99 > 0 else 1.0
    detail = (
        f"{service} {operation}: p99 {report.p99:.1f} ms and p50 {report.p50:.1f} ms over "
        f"{report.spans} spans, expected p99 {report.expected_p99:.1f} ms and p50 "
        f"{report.expected_p50:.1f} ms"
    )
    return _event(
        tenant=tenant,
        service=service,
        peer=peer,
        operation=operation,
        signal="latency",
        status=status,
        end=end,
        score=min(1.0, 0.8 + 0.05 * ratio),
        severity=Severity.ERROR if ratio >= 3 else Severity.WARNING,
        explanation=Explanation(
            observed=report.p99,
            expected=report.expected_p99,
            lower=0.0,
            upper=report.expected_p99 * 1.5,
            component="latency_p99",
            detail=detail,
        ),
    )


def error_anomaly(
    tenant: str,
    service: str,
    peer: str | None,
    operation: str,
    report: WindowReport,
    status: str,
    end: float,
) -> Anomaly:
    """An operation's error rate rose well above its baseline (or recovered)."""
    detail = (
        f"{service} {operation}: {report.errors} of {report.spans} spans failed "
        f"({report.error_rate:.1%}), expected {report.expected_error_rate:.1%}"
    )
    return _event(
        tenant=tenant,
        service=service,
        peer=peer,
        operation=operation,
        signal="errors",
        status=status,
        end=end,
        score=min(1.0, 0.85 + report.error_rate / 10),
        severity=Severity.ERROR,
        explanation=Explanation(
            observed=report.error_rate,
            expected=report.expected_error_rate,
            lower=0.0,
            upper=report.expected_error_rate + 0.05,
            component="error_rate",
            detail=detail,
        ),
    )


def traffic_anomaly(
    tenant: str,
    service: str,
    peer: str | None,
    operation: str,
    report: WindowReport,
    status: str,
    end: float,
) -> Anomaly:
    """An operation's spans stopped (or nearly): it is down, or nobody calls it any more."""
    detail = (
        f"{service} {operation}: {report.spans} spans in the last window, expected "
        f"{report.expected_spans:.1f}: traffic stopped"
    )
    return _event(
        tenant=tenant,
        service=service,
        peer=peer,
        operation=operation,
        signal="traffic",
        status=status,
        end=end,
        score=0.9,
        severity=Severity.ERROR,
        explanation=Explanation(
            observed=float(report.spans),
            expected=report.expected_spans,
            lower=report.expected_spans * 0.1,
            upper=report.expected_spans * 10,
            component="throughput",
            detail=detail,
        ),
    )
