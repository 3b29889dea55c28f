"""Small factories for test data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.core.events import (
    Anomaly,
    Explanation,
    ExternalAlert,
    ModelReport,
    Severity,
    stable_id,
)

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


def alert(
    status: str = "firing",
    *,
    source: str = "alertmanager",
    fingerprint: str = "fp-1",
    service: str = "checkout",
    minute: float = 0,
    event_id: str | None = None,
    severity: Severity = Severity.ERROR,
) -> ExternalAlert:
    """An external alert; each (status, fingerprint, minute) has its own id unless given."""
    at = T0 + timedelta(minutes=minute)
    return ExternalAlert(
        id=event_id or stable_id("alert", status, source, fingerprint, at.isoformat()),
        source=source,
        fingerprint=fingerprint,
        status="firing" if status == "firing" else "resolved",
        severity=severity,
        service=service,
        summary=f"{fingerprint} on {service}",
        labels={"alertname": "HighErrorRate", "service": service},
        starts_at=at if status == "firing" else T0,
        ends_at=None if status == "firing" else at,
    )


def make_key(factory: sessionmaker[Session], role: str, name: str | None = None) -> str:
    """Create an API key with `role` in the database; returns the key."""
    from services.api.auth import service as keys
    from services.api.auth.principal import CLI
    from services.api.auth.roles import Role

    with factory() as session, session.begin():
        _, token = keys.create_key(session=session, name=name or role, role=Role(role), actor=CLI)
    return token


def model_report(
    series: str = 'latency_ms{service="checkout"}', *, version: int = 0, points: int = 100
) -> ModelReport:
    """A detect worker's report of one series' model."""
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=points)
    return ModelReport(
        series=series,
        model_type="FallbackDetector",
        version=version,
        params={"fire_threshold": 0.92},
        points=points,
        checkpoint_at=at,
        reported_at=at,
    )
