"""REST routes: predictions (list, get) and the KEDA metrics-api scaling answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.api.deps import SessionDep, Viewer
from services.api.incidents.schemas import decode_cursor, encode_cursor
from services.api.openapi import errors
from services.api.predictions import service
from services.api.predictions.scaling import ScalingPolicy, recommend
from services.api.predictions.schemas import (
    PredictionKind,
    PredictionPage,
    PredictionRead,
    ScalingRead,
)
from services.core.errors import VigilError
from services.core.events import utcnow

router = APIRouter(prefix="/api/v1", tags=["predictions"])

SORT = "-at"  # the one order of the listing (cursors name it)


class InvalidScaling(VigilError):
    """Scaling parameters that contradict each other (e.g. min above max)."""


@router.get(
    "/predictions", response_model=PredictionPage, summary="List predictions", responses=errors(400)
)
def list_predictions(
    session: SessionDep,
    _: Viewer,
    service_name: Annotated[str | None, Query(alias="service", max_length=256)] = None,
    kind: Annotated[list[PredictionKind] | None, Query(description="Repeat for OR.")] = None,
    tenant: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="Made at or after (ISO 8601).")] = None,
    min_probability: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PredictionPage:
    """Forecasts and failure predictions, newest first, filtered; cursor-paginated."""
    before = decode_cursor(cursor, SORT) if cursor else None
    rows = service.list_predictions(
        session=session,
        service=service_name,
        kind=list(kind or []),
        tenant=tenant,
        since=since,
        min_probability=min_probability,
        limit=limit + 1,
        before=before,
    )
    items = [PredictionRead.model_validate(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.at, last.id, SORT)
    return PredictionPage(items=items, next_cursor=next_cursor)


@router.get("/predictions/{prediction_id}", response_model=PredictionRead, responses=errors(404))
def get_prediction(
    session: SessionDep, _: Viewer, prediction_id: Annotated[str, Path(max_length=128)]
) -> PredictionRead:
    """One prediction by id."""
    return PredictionRead.model_validate(service.require_prediction(session, prediction_id))


@router.get(
    "/scaling/{service_name}",
    response_model=ScalingRead,
    summary="Recommended replicas (KEDA metrics-api)",
    responses=errors(),
)
def scaling(
    session: SessionDep,
    _: Viewer,
    service_name: Annotated[str, Path(max_length=256)],
    target_per_replica: Annotated[
        float, Query(gt=0, le=1e12, description="Load one replica carries (forecast metric unit).")
    ],
    min_replicas: Annotated[int, Query(ge=0, le=10_000)] = 1,
    max_replicas: Annotated[int, Query(ge=1, le=10_000)] = 100,
    headroom: Annotated[float, Query(ge=0, le=10, description="Spare fraction.")] = 0.2,
    scale_down_window_s: Annotated[
        float, Query(ge=0, le=86_400, description="Scale down only after this long.")
    ] = 900,
    max_age_s: Annotated[
        float, Query(gt=0, le=86_400, description="Older forecasts count as none.")
    ] = 1800,
    tenant: Annotated[str, Query(max_length=64)] = "default",
) -> ScalingRead:
    """Replicas the service should run for its forecast load, for KEDA's metrics-api trigger
    (`valueLocation: predicted_replicas`). Without a recent forecast: `min_replicas`, stale."""
    if min_replicas > max_replicas:
        raise InvalidScaling(f"min_replicas ({min_replicas}) exceeds max_replicas ({max_replicas})")
    policy = ScalingPolicy(
        target_per_replica=target_per_replica,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        headroom=headroom,
        scale_down_window=timedelta(seconds=scale_down_window_s),
    )
    now = utcnow()
    window = timedelta(seconds=max(scale_down_window_s, 0) + max_age_s)
    forecasts, metric = service.recent_forecasts(
        session=session, tenant=tenant, service=service_name, window=window, now=now
    )
    fresh = [f for f in forecasts if f.at >= now - timedelta(seconds=max_age_s)]
    advice = recommend(forecasts, policy) if fresh else None
    if advice is None:
        return ScalingRead(
            service=service_name,
            predicted_replicas=min_replicas,
            undamped_replicas=min_replicas,
            forecast_peak=None,
            metric=metric,
            stale=True,
        )
    return ScalingRead(
        service=service_name,
        predicted_replicas=advice.replicas,
        undamped_replicas=advice.undamped,
        forecast_peak=advice.peak,
        metric=metric,
        forecast_at=advice.forecast_at,
        stale=False,
    )
