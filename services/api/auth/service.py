"""API keys: create (the key is shown once), authenticate, list and revoke."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth import keys
from services.api.auth.models import ApiKey
from services.api.auth.principal import Principal
from services.api.auth.roles import Role
from services.core.errors import NotFound, Unauthorized
from services.core.events import utcnow


def create_key(*, session: Session, name: str, role: Role, actor: Principal) -> tuple[ApiKey, str]:
    """Create a key; returns the stored row and the key itself (never stored, shown once)."""
    new = keys.generate()
    row = ApiKey(
        id=new.key_id,
        name=name,
        role=role.value,
        secret_hash=new.secret_hash,
        created_at=utcnow(),
        created_by=actor.name,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="key.create",
        target_type="key",
        target_id=row.id,
        detail={"name": name, "role": role.value},
    )
    return row, new.token


def authenticate(*, session: Session, token: str) -> Principal:
    """The principal a presented key stands for; raises Unauthorized."""
    parsed = keys.parse(token)
    if parsed is None:
        raise Unauthorized("not a Vigil API key")
    key_id, secret = parsed
    row = session.get(ApiKey, key_id)
    if (
        row is None
        or row.revoked_at is not None
        or not keys.verify(key_id, secret, row.secret_hash)
    ):
        raise Unauthorized("unknown or revoked API key")
    return Principal(name=row.name, role=Role(row.role), key_id=row.id)


def list_keys(*, session: Session) -> Sequence[ApiKey]:
    """Every key (without secrets), newest first."""
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)).all()


def revoke_key(*, session: Session, key_id: str, actor: Principal) -> ApiKey:
    """Revoke a key; it stops working at once. Revoking twice is a no-op."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="key.revoke",
            target_type="key",
            target_id=row.id,
            detail={"name": row.name, "role": row.role},
        )
    return row


def count_keys(*, session: Session) -> int:
    """How many keys exist (revoked ones included)."""
    return int(session.scalar(select(func.count()).select_from(ApiKey)) or 0)
