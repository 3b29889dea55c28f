"""Small factories for test data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.core.events import Anomaly, Explanation, Severity, stable_id

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def anomaly(
    status: str = "firing",
    *,
    service: str = "checkout",
    series: str = 'latency{service="checkout"}',
    minute: float = 0,
    severity: Severity = Severity.WARNING,
) -> Anomaly:
    """An anomaly with a deterministic id (same arguments, same id)."""
    at = T0 + timedelta(minutes=minute)
    return Anomaly(
        id=stable_id(status, service, series, at.isoformat()),
        status="firing" if status == "firing" else "resolved",
        series=series,
        metric=series.split("{")[0],
        service=service,
        timestamp=at,
        score=0.9,
        severity=severity,
        detector="test",
        explanation=Explanation(observed=9, expected=1, lower=0, upper=2, component="test"),
    )
