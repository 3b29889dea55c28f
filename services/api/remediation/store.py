"""Stored actions <-> the approval state machine: reading rows, rebuilding `Approval`s and
writing back their state, decisions, timeline entries and escalations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.auth.principal import Principal
from services.api.auth.roles import Role
from services.api.incidents.service import note
from services.api.outbox import enqueue
from services.api.remediation.errors import ActionNotFound
from services.api.remediation.models import RemediationAction, RemediationDecision
from services.api.remediation.schemas import ActionRead, DecisionRead
from services.core.events import Notification, stable_id
from services.core.topics import NOTIFICATIONS
from services.remediate.approvals import (
    POLICY_ACTOR_PREFIX,
    Approval,
    ApprovalState,
    Decision,
    Escalation,
    Transition,
)
from services.remediate.policies import ProposedAction
from services.remediate.policies.model import Risk

SYSTEM = Principal("remediation", Role.ADMIN)
DEFAULT_ESCALATION = "oncall"

# Timeline kinds of the approval's state changes; succeeded/failed after execution come from
# the worker's result (see incidents/activity.py), so they have none here.
_TIMELINE_KIND = {
    ApprovalState.APPROVED: "approval.approved",
    ApprovalState.REJECTED: "approval.rejected",
    ApprovalState.EXPIRED: "approval.expired",
    ApprovalState.EXECUTING: "action.sent",
    ApprovalState.VERIFIED: "action.verified",
    ApprovalState.ROLLED_BACK: "action.rolled_back",
}


# -- reading ----------------------------------------------------------------------------------


def get_action(session: Session, action_id: str, *, lock: bool = False) -> RemediationAction:
    """The action with that id; raises ActionNotFound."""
    query = select(RemediationAction).where(RemediationAction.id == action_id)
    row = session.scalars(query.with_for_update() if lock else query).first()
    if row is None:
        raise ActionNotFound(f"no remediation action {action_id!r}")
    return row


def decisions_of(session: Session, action_id: str) -> Sequence[RemediationDecision]:
    """The action's decisions, oldest first."""
    query = select(RemediationDecision).where(RemediationDecision.action_id == action_id)
    return session.scalars(query.order_by(RemediationDecision.id)).all()


def read(session: Session, row: RemediationAction) -> ActionRead:
    """The API view of an action, with its decisions."""
    view = ActionRead.model_validate(row)
    decisions = [DecisionRead.model_validate(d) for d in decisions_of(session, row.id)]
    return view.model_copy(update={"decisions": decisions})


# -- the domain object and back -----------------------------------------------------------------


def proposal_of(row: RemediationAction) -> ProposedAction:
    """The domain proposal a row stands for."""
    return ProposedAction(
        policy=row.policy,
        owner=row.owner,
        incident_id=row.incident_id,
        action=row.action,
        target=row.target,
        params=dict(row.params or {}),
        risk=cast(Risk, row.risk),
        auto_approved=row.auto_approved,
        required_approvals=row.required_approvals,
        approvers=tuple(row.approvers or ()),
        ttl=timedelta(seconds=row.ttl_s),
        escalate_to=row.escalate_to,
    )


def approval_of(session: Session, row: RemediationAction) -> Approval:
    """The approval state machine of a stored action."""
    decisions = [
        Decision(d.actor, d.verdict, d.at, d.comment) for d in decisions_of(session, row.id)
    ]
    return Approval(
        request_id=row.id,
        proposal=proposal_of(row),
        requested_by=row.requested_by,
        created_at=row.created_at,
        state=ApprovalState(row.state),
        decisions=decisions,
    )


def save(
    session: Session,
    row: RemediationAction,
    approval: Approval,
    *,
    via: str,
    now: datetime,
    fallback_channel: str = DEFAULT_ESCALATION,
) -> None:
    """Write the approval's new state, decisions, timeline entries and escalations."""
    known = len(decisions_of(session, row.id))
    for d in approval.decisions[known:]:
        how = "policy" if d.actor.startswith(POLICY_ACTOR_PREFIX) else via
        how = "system" if d.actor == "system" else how
        session.add(
            RemediationDecision(
                action_id=row.id, actor=d.actor, verdict=d.verdict, via=how, at=d.at,
                comment=d.comment,
            )
        )  # fmt: skip
    row.state = approval.state.value
    row.approved_by = approval.approved_by
    row.updated_at = now
    for event in approval.pending_events:
        if isinstance(event, Transition):
            _note_transition(session, row, event, via)
        elif isinstance(event, Escalation):
            _escalate(session, row, event, fallback_channel)
    approval.pending_events.clear()


def _note_transition(session: Session, row: RemediationAction, event: Transition, via: str) -> None:
    kind = _TIMELINE_KIND.get(event.to_state)
    if event.to_state is ApprovalState.FAILED and event.from_state is ApprovalState.SUCCEEDED:
        kind = "action.unverified"
    if kind is None:
        return
    detail: dict[str, Any] = {
        "action_id": row.id,
        "action": row.action,
        "target": row.target,
        "from": event.from_state.value,
        "to": event.to_state.value,
    }
    if event.detail:
        detail["detail"] = event.detail
    if event.to_state in (ApprovalState.APPROVED, ApprovalState.REJECTED):
        detail["via"] = "policy" if event.actor.startswith(POLICY_ACTOR_PREFIX) else via
    note(session, row.incident_id, kind, event.actor[:128], detail, event.at)


def _escalate(
    session: Session, row: RemediationAction, event: Escalation, fallback_channel: str
) -> None:
    channel = event.to or fallback_channel
    detail = {"action_id": row.id, "to": channel, "reason": event.reason}
    note(session, row.incident_id, "approval.escalated", "remediation", detail, event.at)
    enqueue(
        session,
        NOTIFICATIONS,
        Notification(
            id=stable_id("approval-expired", row.id),
            channel=channel,
            incident_id=row.incident_id,
            event_type="remediation.approval_expired",
            payload={
                "action_id": row.id,
                "action": row.action,
                "target": row.target,
                "detail": event.reason,
            },
        ),
    )
