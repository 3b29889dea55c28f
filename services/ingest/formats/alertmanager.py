"""Alertmanager webhook (version 4) -> ExternalAlert events, one per alert, firing or resolved.

Severity comes from the `severity` label (critical/page -> critical, error/high -> error,
warning -> warning, info/low/none -> info; warning when absent), the service from the first of
the labels `service`, `app`, `job`, the summary from the `summary` or `description` annotation
(else the alert name). Event ids are derived from the alert's fingerprint, status and start,
so a webhook Alertmanager re-sends yields the same ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.core.events import ExternalAlert, Severity, stable_id
from services.ingest.formats import DecodeContext, Decoded, DecodeError, check_items
from services.ingest.formats.validation import first_error

SEVERITIES = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "error": Severity.ERROR,
    "high": Severity.ERROR,
    "major": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "medium": Severity.WARNING,
    "minor": Severity.WARNING,
    "info": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
}
SERVICE_LABELS = ("service", "app", "job")


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str = ""  # noqa: N815
    fingerprint: str = Field(default="", max_length=128)


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    alerts: list[AlertIn]


def severity_of(labels: dict[str, str]) -> Severity:
    """Vigil's severity for an alert's `severity` label."""
    return SEVERITIES.get(labels.get("severity", "").strip().lower(), Severity.WARNING)


def decode(data: Any, context: DecodeContext) -> Decoded:
    """Decode a parsed webhook body."""
    try:
        webhook = WebhookIn.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(*first_error(exc)) from None
    check_items(len(webhook.alerts), context)
    out = Decoded()
    for alert in webhook.alerts:
        fingerprint = alert.fingerprint or stable_id(*sorted(alert.labels.items()))[:16]
        service = next((alert.labels[k] for k in SERVICE_LABELS if alert.labels.get(k)), "unknown")
        summary = (
            alert.annotations.get("summary")
            or alert.annotations.get("description")
            or alert.labels.get("alertname", "")
        )
        ends_at = alert.endsAt if alert.status == "resolved" and alert.endsAt else None
        if ends_at is not None and ends_at.year < 2:
            ends_at = None  # Go's zero time: not set
        out.alerts.append(
            ExternalAlert(
                id=stable_id(
                    "alertmanager", context.tenant, fingerprint, alert.status, alert.startsAt
                ),
                source="alertmanager",
                fingerprint=fingerprint,
                status=alert.status,
                severity=severity_of(alert.labels),
                service=service,
                summary=summary[:2000],
                labels=alert.labels,
                starts_at=alert.startsAt,
                ends_at=ends_at,
                tenant=context.tenant,
            )
        )
    return out
