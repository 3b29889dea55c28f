"""Policies in force: those of the policy files (read-only) plus those stored through the API,
and matching them against incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.remediation.errors import InvalidPolicy, PolicyConflict
from services.api.remediation.models import StoredPolicy
from services.api.remediation.schemas import (
    ApprovalRuleRead,
    PolicyRead,
    PolicyWrite,
)
from services.core.errors import NotFound
from services.remediate.policies import Policy, PolicySet


def stored(session: Session) -> list[Policy]:
    """Policies stored through the API, by name."""
    rows = session.scalars(select(StoredPolicy).order_by(StoredPolicy.name))
    policies = []
    for row in rows:
        try:
            policies.append(Policy.model_validate(row.spec))
        except ValidationError:  # written by a newer version; skip rather than stop matching
            continue
    return policies


def in_force(session: Session, files: PolicySet) -> PolicySet:
    """File policies first (in file order), then stored ones (names are unique across both)."""
    names = {p.name for p in files.policies}
    return PolicySet(
        policies=[*files.policies, *(p for p in stored(session) if p.name not in names)]
    )


def to_spec(policy: Policy) -> dict[str, Any]:
    """A policy as JSON that `Policy.model_validate` reads back (the TTL in seconds)."""
    spec = policy.model_dump(mode="json")
    spec["approval"]["ttl"] = policy.approval.ttl.total_seconds()
    return spec


def view(policy: Policy, source: str) -> PolicyRead:
    """The API view of a policy."""
    rule = policy.approval
    return PolicyRead(
        name=policy.name,
        source="file" if source == "file" else "api",
        owner=policy.owner,
        enabled=policy.enabled,
        match=policy.match,
        actions=policy.actions,
        approval=ApprovalRuleRead(
            auto_approve=rule.auto_approve,
            required=rule.required,
            approvers=rule.approvers,
            ttl_s=rule.ttl.total_seconds(),
            escalate_to=rule.escalate_to,
        ),
    )


def views(session: Session, files: PolicySet) -> list[PolicyRead]:
    """Every policy in force, with where it comes from."""
    names = {p.name for p in files.policies}
    return [view(p, "file") for p in files.policies] + [
        view(p, "api") for p in stored(session) if p.name not in names
    ]


def find(session: Session, files: PolicySet, name: str) -> PolicyRead:
    """One policy by name; raises NotFound."""
    for policy in views(session, files):
        if policy.name == name:
            return policy
    raise NotFound(f"no policy named {name!r}")


def put(
    session: Session,
    files: PolicySet,
    *,
    name: str,
    body: PolicyWrite,
    actor: Principal,
    now: datetime,
) -> tuple[PolicyRead, bool]:
    """Create or replace a stored policy; returns it and whether it is new."""
    if any(p.name == name for p in files.policies):
        raise PolicyConflict(f"policy {name!r} comes from a policy file; change it there")
    try:
        policy = Policy(name=name, **body.model_dump())
    except ValidationError as exc:
        raise InvalidPolicy(f"invalid policy: {exc.errors()[0]['msg']}") from exc
    row = session.get(StoredPolicy, name, with_for_update=True)
    created = row is None
    if row is None:
        row = StoredPolicy(name=name)
        session.add(row)
    row.spec, row.updated_at, row.updated_by = to_spec(policy), now, actor.name
    audit.record(
        session, actor=actor, action="policy.create" if created else "policy.update",
        target_type="policy", target_id=name, detail=row.spec,
    )  # fmt: skip
    return view(policy, "api"), created


def delete(session: Session, files: PolicySet, *, name: str, actor: Principal) -> None:
    """Delete a stored policy; raises NotFound, or PolicyConflict for a file policy."""
    if any(p.name == name for p in files.policies):
        raise PolicyConflict(f"policy {name!r} comes from a policy file; remove it there")
    row = session.get(StoredPolicy, name, with_for_update=True)
    if row is None:
        raise NotFound(f"no policy named {name!r}")
    session.delete(row)
    audit.record(session, actor=actor, action="policy.delete", target_type="policy", target_id=name)
