"""REST routes for silences and maintenance windows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.api.deps import Responder, SessionDep, TransactionDep, Viewer
from services.api.incidents.schemas import decode_cursor, encode_cursor
from services.api.openapi import errors
from services.api.silences import service
from services.api.silences.models import Silence
from services.api.silences.schemas import SilenceCreate, SilencePage, SilenceRead, SilenceUpdate
from services.core.events import utcnow

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])

SilenceId = Annotated[str, Path(max_length=64)]
_SORT = "-ends_at"


def _read(silence: Silence) -> SilenceRead:
    read = SilenceRead.model_validate(silence)
    now = utcnow()
    return read.model_copy(update={"active": silence.starts_at <= now < silence.ends_at})


@router.get("", response_model=SilencePage, summary="List silences", responses=errors(400))
def list_silences(
    session: SessionDep,
    _: Viewer,
    active: Annotated[bool, Query(description="Only those in force now.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SilencePage:
    """Silences and maintenance windows, latest ending first."""
    before = decode_cursor(cursor, _SORT) if cursor else None
    rows = service.list_silences(
        session=session, active_at=utcnow() if active else None, before=before, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.ends_at, last.id, _SORT)
    return SilencePage(items=[_read(s) for s in rows[:limit]], next_cursor=next_cursor)


@router.post("", response_model=SilenceRead, status_code=201, responses=errors(409))
def create_silence(tx: TransactionDep, actor: Responder, body: SilenceCreate) -> SilenceRead:
    """Silence matching signals for a time range (responder). They are recorded, not notified."""
    with tx() as session:
        silence = service.create(
            session=session,
            actor=actor,
            kind=body.kind,
            matchers=[m.model_dump(mode="json") for m in body.matchers],
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            comment=body.comment,
        )
        return _read(silence)


@router.get("/{silence_id}", response_model=SilenceRead, responses=errors(404))
def get_silence(session: SessionDep, _: Viewer, silence_id: SilenceId) -> SilenceRead:
    """One silence."""
    return _read(service.get(session=session, silence_id=silence_id))


@router.patch("/{silence_id}", response_model=SilenceRead, responses=errors(404, 409))
def update_silence(
    tx: TransactionDep, actor: Responder, silence_id: SilenceId, body: SilenceUpdate
) -> SilenceRead:
    """Change a silence (responder); set `ends_at` to now to expire it."""
    changes = body.model_dump(exclude_unset=True)
    if body.matchers is not None:
        changes["matchers"] = [m.model_dump(mode="json") for m in body.matchers]
    with tx() as session:
        silence = service.update(
            session=session, silence_id=silence_id, actor=actor, changes=changes
        )
        return _read(silence)


@router.delete("/{silence_id}", status_code=204, responses=errors(404))
def delete_silence(tx: TransactionDep, actor: Responder, silence_id: SilenceId) -> Response:
    """Delete a silence (responder)."""
    with tx() as session:
        service.delete(session=session, silence_id=silence_id, actor=actor)
    return Response(status_code=204)
