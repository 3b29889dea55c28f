"""Who clicked: the Vigil identity behind a Slack user, and whether it may decide.

A valid Slack signature proves the click came from our Slack app, not who in Vigil may
approve: anyone in the workspace can click a button. So a Slack user decides only as the
Vigil identity `VIGIL_SLACK_USERS` maps them to (an API key name), with the role of that
name's active keys (the highest, if several), and only when that role is approver or admin;
everyone else is refused and the refusal audited. Deciding as the key's name is also what
makes one person count once whether they approve in Slack or through the API (N of M, no
self-approval).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.models import ApiKey
from services.api.auth.principal import Principal
from services.api.auth.roles import Role, allows

_BY_RANK = list(Role)  # lowest first


@dataclass(frozen=True)
class Refusal:
    """Why a Slack user may not decide, as shown to them (ephemerally) and audited."""

    who: Principal  # the mapped identity with its role, or `slack:<id>` as a viewer
    reason: str


def slack_principal(
    session: Session, *, user_id: str, users: Mapping[str, str]
) -> Principal | Refusal:
    """The approver a Slack user decides as, or why they may not decide."""
    stranger = Principal(f"slack:{user_id}"[:128], Role.VIEWER)
    name = users.get(user_id)
    if not name:
        return Refusal(
            stranger,
            "your Slack user is not linked to a Vigil identity, so you cannot approve or "
            f"reject remediations from Slack; ask an admin to map {user_id} to your API key "
            "name in VIGIL_SLACK_USERS",
        )
    keys = session.scalars(
        select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
    ).all()
    if not keys:
        return Refusal(
            Principal(name[:128], Role.VIEWER),
            f"your Slack user is linked to {name!r}, which has no active Vigil API key; "
            "ask an admin for an approver key",
        )
    key = max(keys, key=lambda k: _BY_RANK.index(Role(k.role)))
    principal = Principal(name[:128], Role(key.role), key_id=key.id)
    if not allows(principal.role, Role.APPROVER):
        return Refusal(
            principal,
            f"{name!r} holds the {key.role} role; approving or rejecting remediations needs "
            "the approver role",
        )
    return principal


def record_refusal(
    session: Session, *, refusal: Refusal, user_id: str, action_id: str, decision: str
) -> None:
    """Audit a click refused for who made it (in the caller's transaction)."""
    audit.record(
        session,
        actor=refusal.who,
        action=f"remediation.{decision}.refused",
        target_type="action",
        target_id=action_id[:128],
        detail={"via": "slack", "slack_user": user_id, "reason": refusal.reason},
    )
