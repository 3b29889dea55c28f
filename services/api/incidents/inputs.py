"""What a signal is to the incident service: anomalies and external alerts in one shape, and
the policy that decides how signals become incidents. No database, no bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.api.incidents import correlation, quiet
from services.core.events import Anomaly, ExternalAlert, Severity, utcnow

PREDICTED = "predicted"  # the signal kind (and incident kind) of failure predictions


@dataclass(frozen=True)
class IncidentPolicy:
    """Everything that decides how signals become incidents."""

    correlation: correlation.CorrelationPolicy = field(
        default_factory=correlation.CorrelationPolicy
    )
    quiet: quiet.QuietPolicy = field(default_factory=quiet.QuietPolicy)
    # Dependency edges from traces older than this (on their snapshot's clock) are ignored.
    topology_max_age: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class SignalIn:
    """An anomaly or an external alert, in the shape correlation and storage need."""

    id: str
    kind: str
    status: str
    tenant: str
    service: str
    fingerprint: str
    at: datetime
    severity: Severity
    score: float
    title: str
    labels: dict[str, str]
    detail: dict[str, Any]
    payload: dict[str, Any]

    @property
    def source(self) -> str:
        if self.kind == PREDICTED:
            return "prediction"
        return "alert" if self.kind == "alert" else "anomaly"


def from_anomaly(anomaly: Anomaly) -> SignalIn:
    """An anomaly as a signal: its fingerprint is its series."""
    labels = {
        **anomaly.labels,
        "service": anomaly.service,
        "metric": anomaly.metric,
        "series": anomaly.series,
        "kind": anomaly.kind,
        "severity": anomaly.severity.value,
        "detector": anomaly.detector,
        "tenant": anomaly.tenant,
    }
    explanation = anomaly.explanation.model_dump() if anomaly.explanation else None
    return SignalIn(
        id=anomaly.id,
        kind=anomaly.kind,
        status=anomaly.status,
        tenant=anomaly.tenant,
        service=anomaly.service,
        fingerprint=anomaly.series,
        at=anomaly.timestamp,
        severity=anomaly.severity,
        score=anomaly.score,
        title=f"{anomaly.metric} anomalous on {anomaly.service}",
        labels=labels,
        detail={
            "signal_id": anomaly.id,
            "series": anomaly.series,
            "score": anomaly.score,
            "detector": anomaly.detector,
            "explanation": explanation,
            # The series' own time (the entry's `at` is when it was recorded): the console
            # charts the observed value and band at this moment.
            "observed_at": anomaly.timestamp.isoformat(),
        },
        payload=anomaly.model_dump(mode="json"),
    )


def from_alert(alert: ExternalAlert, received_at: datetime | None = None) -> SignalIn:
    """An external alert as a signal: its fingerprint is `alert:<source>:<fingerprint>`."""
    fingerprint = f"alert:{alert.source}:{alert.fingerprint}"
    if alert.status == "firing":
        at = alert.starts_at
    else:
        at = alert.ends_at or received_at or utcnow()
    labels = {
        **alert.labels,
        "service": alert.service,
        "source": alert.source,
        "fingerprint": alert.fingerprint,
        "severity": alert.severity.value,
        "kind": "alert",
        "tenant": alert.tenant,
    }
    return SignalIn(
        id=alert.id,
        kind="alert",
        status=alert.status,
        tenant=alert.tenant,
        service=alert.service,
        fingerprint=fingerprint,
        at=at,
        severity=alert.severity,
        score=1.0,
        title=alert.summary or f"{alert.labels.get('alertname', fingerprint)} on {alert.service}",
        labels=labels,
        detail={
            "signal_id": alert.id,
            "source": alert.source,
            "fingerprint": alert.fingerprint,
            "summary": alert.summary,
            "labels": alert.labels,
        },
        payload=alert.model_dump(mode="json"),
    )
