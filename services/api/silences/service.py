"""Silences and maintenance windows: CRUD (audited) and the rules matching uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.silences.matching import SilenceRule, rule_from
from services.api.silences.models import Silence
from services.core.errors import Conflict, NotFound
from services.core.events import new_id, utcnow


def rules_between(session: Session, start: datetime, end: datetime) -> list[SilenceRule]:
    """The silences in force at some point between `start` and `end`, ready for matching."""
    query = select(Silence).where(Silence.starts_at <= end, Silence.ends_at > start)
    return [rule_from(s.id, s.matchers, s.starts_at, s.ends_at) for s in session.scalars(query)]


def create(
    *,
    session: Session,
    actor: Principal,
    kind: str,
    matchers: list[dict[str, Any]],
    ends_at: datetime,
    starts_at: datetime | None = None,
    comment: str = "",
) -> Silence:
    """Create a silence (or maintenance window)."""
    now = utcnow()
    silence = Silence(
        id=new_id(),
        kind=kind,
        matchers=matchers,
        starts_at=starts_at or now,
        ends_at=ends_at,
        comment=comment,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    if silence.ends_at <= silence.starts_at:
        raise Conflict("ends_at must be after starts_at")
    session.add(silence)
    audit.record(
        session,
        actor=actor,
        action="silence.create",
        target_type="silence",
        target_id=silence.id,
        detail=_describe(silence),
    )
    return silence


def get(*, session: Session, silence_id: str) -> Silence:
    """One silence; raises NotFound."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"silence {silence_id} not found")
    return silence


def list_silences(
    *,
    session: Session,
    active_at: datetime | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> Sequence[Silence]:
    """Silences, latest ending first; only those in force at `active_at` when given."""
    query = select(Silence)
    if active_at is not None:
        query = query.where(Silence.starts_at <= active_at, Silence.ends_at > active_at)
    if before is not None:
        ends_at, silence_id = before
        query = query.where(
            (Silence.ends_at < ends_at) | ((Silence.ends_at == ends_at) & (Silence.id < silence_id))
        )
    query = query.order_by(Silence.ends_at.desc(), Silence.id.desc()).limit(limit)
    return session.scalars(query).all()


def update(
    *,
    session: Session,
    silence_id: str,
    actor: Principal,
    changes: dict[str, Any],
) -> Silence:
    """Change matchers, times or comment; `ends_at` = now expires the silence."""
    silence = get(session=session, silence_id=silence_id)
    before = _describe(silence)
    for name in ("matchers", "starts_at", "ends_at", "comment"):
        if name in changes and changes[name] is not None:
            setattr(silence, name, changes[name])
    if silence.ends_at <= silence.starts_at:
        raise Conflict("ends_at must be after starts_at")
    silence.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="silence.update",
        target_type="silence",
        target_id=silence.id,
        detail={"before": before, "after": _describe(silence)},
    )
    return silence


def delete(*, session: Session, silence_id: str, actor: Principal) -> None:
    """Delete a silence (its id stays on the signals it silenced)."""
    silence = get(session=session, silence_id=silence_id)
    audit.record(
        session,
        actor=actor,
        action="silence.delete",
        target_type="silence",
        target_id=silence.id,
        detail=_describe(silence),
    )
    session.delete(silence)


def _describe(silence: Silence) -> dict[str, Any]:
    return {
        "kind": silence.kind,
        "matchers": silence.matchers,
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "comment": silence.comment,
    }
