"""Predictions: stored from the bus, listed, and read back as scaling advice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from services.api.incidents.inputs import IncidentPolicy
from services.api.incidents.signals import record_signals
from services.api.predictions.models import PredictionRecord
from services.api.predictions.scaling import Forecast
from services.api.predictions.signals import from_prediction
from services.core.errors import NotFound
from services.core.events import IncidentEvent, Prediction, utcnow


def record(
    *, session: Session, predictions: Sequence[Prediction], policy: IncidentPolicy
) -> list[IncidentEvent]:
    """Store predictions (redeliveries change nothing); failure alerts become incidents."""
    if not predictions:
        return []
    ids = list({p.id for p in predictions})
    seen = set(session.scalars(select(PredictionRecord.id).where(PredictionRecord.id.in_(ids))))
    now = utcnow()
    fresh: list[Prediction] = []
    for p in predictions:
        if p.id in seen:
            continue
        seen.add(p.id)
        fresh.append(p)
        session.add(
            PredictionRecord(
                id=p.id,
                tenant=p.tenant,
                service=p.service,
                kind=p.kind,
                series=p.series,
                probability=p.probability,
                lead_time_s=p.lead_time_s,
                value=p.value,
                status=p.status,
                at=p.timestamp,
                received_at=now,
                detail=p.detail,
            )
        )
    signals = [from_prediction(p) for p in fresh if p.kind == "failure" and p.status]
    return record_signals(session=session, signals=signals, policy=policy)


def list_predictions(
    *,
    session: Session,
    service: str | None = None,
    kind: Sequence[str] = (),
    tenant: str | None = None,
    since: datetime | None = None,
    min_probability: float | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> Sequence[PredictionRecord]:
    """Predictions filtered, newest first, keyset-paginated on (at, id)."""
    query = select(PredictionRecord)
    if service:
        query = query.where(PredictionRecord.service == service)
    if kind:
        query = query.where(PredictionRecord.kind.in_(list(kind)))
    if tenant:
        query = query.where(PredictionRecord.tenant == tenant)
    if since is not None:
        query = query.where(PredictionRecord.at >= since)
    if min_probability is not None:
        query = query.where(PredictionRecord.probability >= min_probability)
    if before is not None:
        query = query.where(tuple_(PredictionRecord.at, PredictionRecord.id) < tuple_(*before))
    order = (PredictionRecord.at.desc(), PredictionRecord.id.desc())
    return session.scalars(query.order_by(*order).limit(limit)).all()


def require_prediction(session: Session, prediction_id: str) -> PredictionRecord:
    """One prediction by id; raises NotFound."""
    row = session.get(PredictionRecord, prediction_id)
    if row is None:
        raise NotFound(f"prediction {prediction_id} not found")
    return row


def recent_forecasts(
    *, session: Session, tenant: str, service: str, window: timedelta, now: datetime
) -> tuple[list[Forecast], str | None]:
    """The service's load forecasts made within `window` before `now`, and their metric."""
    query = (
        select(PredictionRecord)
        .where(PredictionRecord.tenant == tenant, PredictionRecord.service == service)
        .where(PredictionRecord.kind == "load_forecast")
        .where(PredictionRecord.at >= now - window)
        .order_by(PredictionRecord.at.desc())
        .limit(500)
    )
    rows = session.scalars(query).all()
    forecasts = [Forecast(r.at, r.value) for r in rows if r.value is not None]
    metric = rows[0].detail.get("metric") if rows else None
    return forecasts, metric if isinstance(metric, str) else None


def prune(*, session: Session, before: datetime) -> int:
    """Delete predictions made before `before`; how many were deleted."""
    result = session.execute(delete(PredictionRecord).where(PredictionRecord.at < before))
    return int(getattr(result, "rowcount", 0) or 0)
