"""REST routes of model management: records, versions, shadow candidates, promote, rollback.

Reading needs the viewer role, every change the admin role; changes are audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.api.deps import Admin, SessionDep, TransactionDep, Viewer
from services.api.learning_models import service
from services.api.learning_models.schemas import (
    CandidateCreate,
    Comparison,
    EndRequest,
    ModelRecordPage,
    ModelRecordRead,
    RollbackRequest,
    ShadowRunRead,
    VersionRead,
)
from services.api.openapi import errors

router = APIRouter(prefix="/api/v1/models", tags=["models"])

RunId = Annotated[str, Path(max_length=64)]
RecordId = Annotated[str, Path(max_length=64)]


@router.get("", response_model=ModelRecordPage, summary="List model records", responses=errors())
def list_records(
    session: SessionDep,
    _: Viewer,
    service_name: Annotated[str | None, Query(alias="service", max_length=256)] = None,
    tenant: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ModelRecordPage:
    """Each series' model type, parameters, version and last checkpoint, as detect reported."""
    rows, total = service.list_records(
        session=session, service=service_name, tenant=tenant, limit=limit, offset=offset
    )
    return ModelRecordPage(items=[ModelRecordRead.model_validate(r) for r in rows], total=total)


@router.get(
    "/versions",
    response_model=list[VersionRead],
    summary="List detector versions",
    responses=errors(),
)
def list_versions(session: SessionDep, _: Viewer) -> list[VersionRead]:
    """Every detector configuration, newest first, with its status (live, candidate, ...)."""
    return [VersionRead.model_validate(r) for r in service.list_versions(session=session)]


@router.get(
    "/candidates",
    response_model=list[ShadowRunRead],
    summary="List shadow runs",
    responses=errors(),
)
def list_candidates(session: SessionDep, _: Viewer) -> list[ShadowRunRead]:
    """Shadow runs of candidate configurations, newest first."""
    return [ShadowRunRead.model_validate(r) for r in service.list_runs(session=session)]


@router.post(
    "/candidates",
    response_model=ShadowRunRead,
    status_code=201,
    summary="Start a shadow run",
    responses=errors(409),
)
def start_candidate(tx: TransactionDep, actor: Admin, body: CandidateCreate) -> ShadowRunRead:
    """Score a candidate configuration in shadow beside the live one (never notifying)."""
    with tx() as session:
        run = service.start_candidate(
            session=session, actor=actor, params=body.params, comment=body.comment
        )
        return ShadowRunRead.model_validate(run)


@router.get(
    "/candidates/{run_id}",
    response_model=ShadowRunRead,
    summary="Get a shadow run",
    responses=errors(404),
)
def get_candidate(session: SessionDep, _: Viewer, run_id: RunId) -> ShadowRunRead:
    """One shadow run."""
    return ShadowRunRead.model_validate(service.get_run(session=session, run_id=run_id))


@router.get(
    "/candidates/{run_id}/comparison",
    response_model=Comparison,
    summary="Compare shadow and live",
    responses=errors(404),
)
def compare(session: SessionDep, _: Viewer, run_id: RunId) -> Comparison:
    """Firings of both configurations on the same stream, and how often they agree."""
    found = service.comparison(session=session, run_id=run_id)
    return Comparison.model_validate({**found, "run": ShadowRunRead.model_validate(found["run"])})


@router.post(
    "/candidates/{run_id}/promote",
    response_model=ShadowRunRead,
    summary="Promote a shadow candidate",
    responses=errors(404, 409),
)
def promote(
    tx: TransactionDep, actor: Admin, run_id: RunId, body: EndRequest | None = None
) -> ShadowRunRead:
    """Make the candidate the live configuration on every detect worker."""
    with tx() as session:
        run = service.promote(
            session=session, actor=actor, run_id=run_id, comment=body.comment if body else ""
        )
        return ShadowRunRead.model_validate(run)


@router.post(
    "/candidates/{run_id}/stop",
    response_model=ShadowRunRead,
    summary="Stop a shadow run",
    responses=errors(404, 409),
)
def stop(
    tx: TransactionDep, actor: Admin, run_id: RunId, body: EndRequest | None = None
) -> ShadowRunRead:
    """Stop scoring the candidate (it is rejected; the live configuration stays)."""
    with tx() as session:
        run = service.stop(
            session=session, actor=actor, run_id=run_id, comment=body.comment if body else ""
        )
        return ShadowRunRead.model_validate(run)


@router.post(
    "/rollback",
    response_model=VersionRead,
    summary="Roll back the live configuration",
    responses=errors(404, 409),
)
def rollback(tx: TransactionDep, actor: Admin, body: RollbackRequest | None = None) -> VersionRead:
    """Make an earlier version live again (default: the one live before the current one)."""
    body = body or RollbackRequest()
    with tx() as session:
        row = service.rollback(
            session=session, actor=actor, to_version=body.to_version, comment=body.comment
        )
        return VersionRead.model_validate(row)


@router.get(
    "/{record_id}",
    response_model=ModelRecordRead,
    summary="Get a model record",
    responses=errors(404),
)
def get_record(session: SessionDep, _: Viewer, record_id: RecordId) -> ModelRecordRead:
    """One series' model record."""
    return ModelRecordRead.model_validate(service.get_record(session=session, record_id=record_id))
