"""Roles of API keys, ordered: each role may do everything the roles below it may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything except the audit log and keys
    RESPONDER = "responder"  # works incidents: acknowledge, resolve, assign, comment, silence
    APPROVER = "approver"  # also approves remediation actions (later issues)
    ADMIN = "admin"  # also manages keys and reads the audit log


_RANK = {role: i for i, role in enumerate(Role)}


def allows(role: Role, required: Role) -> bool:
    """Whether `role` is at least `required`.

    Examples
    --------
    >>> allows(Role.ADMIN, Role.RESPONDER), allows(Role.VIEWER, Role.RESPONDER)
    (True, False)
    """
    return _RANK[role] >= _RANK[required]
