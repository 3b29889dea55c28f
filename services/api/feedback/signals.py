"""The signals a feedback event carries: the incident's anomalies, as detect needs them.

Detect adapts the series an operator labelled (docs/learning.md), so the `Feedback` event
lists every anomaly that fired in the incident with its series, tenant, firing time, band
and, when it resolved, the resolution time. External alerts are left out (no detector of
ours raised them).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.incidents.models import Signal
from services.core.events import Anomaly, FeedbackSignal

MAX_SIGNALS = 200  # a label on a huge incident still fits one message


def incident_signals(session: Session, incident_id: str) -> list[FeedbackSignal]:
    """The incident's anomaly episodes (firing, and resolved when it did), oldest first."""
    rows = session.scalars(
        select(Signal)
        .where(Signal.incident_id == incident_id, Signal.kind != "alert")
        .order_by(Signal.observed_at, Signal.id)
    ).all()
    firing: dict[str, Anomaly] = {}
    resolved: dict[str, datetime] = {}
    for row in rows:
        try:
            anomaly = Anomaly.model_validate(row.payload)
        except ValidationError:
            continue  # not an anomaly of ours (older payloads): nothing to adapt
        if anomaly.status == "firing":
            firing.setdefault(f"{anomaly.tenant}/{anomaly.series}", anomaly)
        else:
            resolved.setdefault(f"{anomaly.tenant}/{anomaly.series}", anomaly.timestamp)
    signals = []
    for key, anomaly in list(firing.items())[:MAX_SIGNALS]:
        explanation = anomaly.explanation
        ended = resolved.get(key)
        signals.append(
            FeedbackSignal(
                kind=anomaly.kind,
                series=anomaly.series,
                tenant=anomaly.tenant,
                service=anomaly.service,
                detector=anomaly.detector,
                fired_at=anomaly.timestamp,
                resolved_at=ended if ended is not None and ended >= anomaly.timestamp else None,
                observed=explanation.observed if explanation else None,
                expected=explanation.expected if explanation else None,
                lower=explanation.lower if explanation else None,
                upper=explanation.upper if explanation else None,
            )
        )
    return signals
