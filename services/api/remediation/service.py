"""Remediation service layer: proposals, decisions (API and chat buttons), dispatch, expiry.

Every function works inside the caller's transaction and writes, in that same transaction,
the action's state, its decisions, timeline entries on the incident, audit records and the
outgoing events (outbox): `remediation.requests` for a proposal awaiting approval,
`remediation.commands` for an approved action (its id is the command's idempotency key),
`notifications` for an escalation or an action its policy approved. The approval rules
themselves live in `services/remediate/approvals.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.auth.roles import Role
from services.api.incidents.models import Incident, Signal
from services.api.incidents.service import note
from services.api.outbox import enqueue
from services.api.remediation import killswitch
from services.api.remediation.errors import (
    AlreadyDecided,
    Expired,
    NotAllowed,
    SelfApprovalRefused,
)
from services.api.remediation.models import RemediationAction
from services.api.remediation.notices import announce_auto_approval
from services.api.remediation.schemas import ActionRead
from services.api.remediation.store import (
    DEFAULT_ESCALATION,
    SYSTEM,
    approval_of,
    get_action,
    read,
    save,
)
from services.core.events import RemediationRequest, Severity, new_id, stable_id, utcnow
from services.core.topics import REMEDIATION_COMMANDS, REMEDIATION_REQUESTS
from services.remediate.approvals import Approval, ApprovalState
from services.remediate.errors import ApprovalError, NotAnApprover, SelfApproval
from services.remediate.policies import IncidentFacts, ProposedAction

# -- reading ----------------------------------------------------------------------------------


def list_actions(
    *,
    session: Session,
    state: Sequence[str] = (),
    incident_id: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> Sequence[RemediationAction]:
    """Actions newest first, filtered, keyset-paginated on (created_at, id)."""
    query = select(RemediationAction)
    if state:
        query = query.where(RemediationAction.state.in_(list(state)))
    if incident_id:
        query = query.where(RemediationAction.incident_id == incident_id)
    if before is not None:
        key = tuple_(RemediationAction.created_at, RemediationAction.id)
        query = query.where(key < tuple_(*before))
    order = (RemediationAction.created_at.desc(), RemediationAction.id.desc())
    return session.scalars(query.order_by(*order).limit(limit)).all()


def incident_facts(session: Session, incident: Incident) -> IncidentFacts:
    """What policies may look at: service, severity, signal kinds and labels."""
    rows = session.execute(
        select(Signal.kind, Signal.payload)
        .where(Signal.incident_id == incident.id)
        .order_by(Signal.received_at)
    ).all()
    labels: dict[str, str] = {}
    for _, payload in rows:
        for key, value in (payload or {}).get("labels", {}).items():
            labels.setdefault(str(key), str(value))
    return IncidentFacts(
        incident_id=incident.id,
        service=incident.service,
        severity=Severity(incident.severity),
        kinds=frozenset(kind for kind, _ in rows),
        labels=labels,
    )


# -- proposing ----------------------------------------------------------------------------------


def propose(
    *,
    session: Session,
    incident: Incident,
    proposals: Sequence[ProposedAction],
    requested_by: str,
    episode: str = "",
    now: datetime | None = None,
    fallback_channel: str = DEFAULT_ESCALATION,
    link_base: str = "",
) -> list[RemediationAction]:
    """Store new proposals (one per policy, action, target and episode) and send approved ones.

    Low-risk actions whose policy allows it are approved at once and sent, and the incident's
    channels get an informational message (no buttons); the others wait for approvers
    (`remediation.requests`, offered with Approve/Reject buttons).
    """
    now = now or utcnow()
    facts = incident_facts(session, incident)
    created = []
    for p in proposals:
        dedup = stable_id(incident.id, p.policy, p.action, p.target, episode)
        if session.scalar(select(RemediationAction.id).where(RemediationAction.dedup_key == dedup)):
            continue
        approval = Approval.open(request_id=new_id(), proposal=p, requested_by=requested_by, at=now)
        row = _new_row(approval, dedup, ",".join(sorted(facts.kinds)) or "unknown", now)
        session.add(row)
        session.flush()
        detail = {
            "action_id": row.id,
            "policy": p.policy,
            "action": p.action,
            "target": p.target,
            "params": p.params,
            "risk": p.risk,
            "required_approvals": p.required_approvals,
            "expires_at": row.expires_at.isoformat(),
        }
        entry = note(session, incident.id, "action.proposed", requested_by[:128], detail, now)
        entry.event_id = row.id  # the remediation.requests echo is then recorded once
        actor = Principal(requested_by[:128], Role.RESPONDER)
        audit.record(
            session, actor=actor, action="remediation.propose", target_type="action",
            target_id=row.id, detail=detail,
        )  # fmt: skip
        save(session, row, approval, via="policy", now=now, fallback_channel=fallback_channel)
        if approval.state is ApprovalState.PROPOSED:
            # Still waiting for people: chat tools offer it with Approve/Reject buttons.
            enqueue(
                session,
                REMEDIATION_REQUESTS,
                RemediationRequest(
                    id=row.id, incident_id=incident.id, action=p.action, target=p.target,
                    params=p.params, risk=p.risk, policy=p.policy,
                ),
            )  # fmt: skip
        elif approval.state is ApprovalState.APPROVED:
            # Approved by its policy: nothing to decide, so no buttons; the channels are told.
            sent = dispatch(session=session, row=row, approval=approval, now=now)
            announce_auto_approval(
                session, incident=incident, row=row, labels=facts.labels, sent=sent,
                link_base=link_base,
            )  # fmt: skip
        created.append(row)
    return created


def _new_row(approval: Approval, dedup: str, kind: str, now: datetime) -> RemediationAction:
    p = approval.proposal
    return RemediationAction(
        id=approval.request_id,
        incident_id=p.incident_id,
        dedup_key=dedup,
        policy=p.policy,
        owner=p.owner,
        action=p.action,
        target=p.target,
        params=p.params,
        risk=p.risk,
        incident_kind=kind[:64],
        state=ApprovalState.PROPOSED.value,
        requested_by=approval.requested_by[:128],
        auto_approved=p.auto_approved,
        required_approvals=p.required_approvals,
        approvers=list(p.approvers),
        approved_by=[],
        ttl_s=p.ttl.total_seconds(),
        escalate_to=p.escalate_to,
        created_at=now,
        updated_at=now,
        expires_at=approval.expires_at,
        held=False,
        result_detail="",
        result_output={},
        verdict="",
    )


# -- deciding -----------------------------------------------------------------------------------


def decide(
    session: Session,
    *,
    action_id: str,
    actor: str,
    decision: Literal["approve", "reject"],
    via: str,
    comment: str | None = None,
    now: datetime | None = None,
) -> ActionRead:
    """Approve or reject an action for `actor` (an API key name), through `via`.

    No role is checked here: `actor` is taken to be an approver. Entry points authorise
    first (the routes through the API key's role, Slack through `slack_identity`) and then
    call `decide_as` with the principal they established.

    Raises a RemediationError: ActionNotFound, SelfApprovalRefused, NotAllowed,
    AlreadyDecided or Expired, each with a message fit to show the person. An approval that
    completes N of M sends the command (or holds it while the kill switch is engaged).
    """
    principal = Principal(actor[:128], Role.APPROVER)
    return decide_as(
        session, action_id=action_id, principal=principal, decision=decision, via=via,
        comment=comment, now=now,
    )  # fmt: skip


def decide_as(
    session: Session,
    *,
    action_id: str,
    principal: Principal,
    decision: Literal["approve", "reject"],
    via: str,
    comment: str | None = None,
    now: datetime | None = None,
) -> ActionRead:
    """`decide` for a known principal (its key id goes to the audit log)."""
    now = now or utcnow()
    row = get_action(session, action_id, lock=True)
    approval = approval_of(session, row)
    actor, text = principal.name, comment or ""
    try:
        if decision == "approve":
            approval.approve(actor, now, text)
        else:
            approval.reject(actor, now, text)
    except SelfApproval as exc:
        raise SelfApprovalRefused(f"you cannot approve this action: {exc}") from exc
    except NotAnApprover as exc:
        raise NotAllowed(f"you cannot decide on this action: {exc}") from exc
    except ApprovalError as exc:
        if approval.state is ApprovalState.EXPIRED:
            raise Expired(
                f"the approval request expired at {row.expires_at.isoformat()}; "
                "propose the action again if it is still needed"
            ) from exc
        raise AlreadyDecided(f"no decision possible: {exc}") from exc
    save(session, row, approval, via=via, now=now)
    if approval.state is ApprovalState.PROPOSED:
        detail = {
            "action_id": row.id,
            "via": via,
            "approvals": f"{len(approval.approved_by)}/{row.required_approvals}",
        }
        note(session, row.incident_id, "approval.vote", actor, detail, now)
    audit.record(
        session,
        actor=principal,
        action=f"remediation.{decision}",
        target_type="action",
        target_id=row.id,
        detail={"via": via, "comment": text, "state": approval.state.value},
    )
    if approval.state is ApprovalState.APPROVED:
        dispatch(session=session, row=row, approval=approval, now=now)
    return read(session, row)


# -- sending ------------------------------------------------------------------------------------


def dispatch(
    *, session: Session, row: RemediationAction, approval: Approval, now: datetime
) -> bool:
    """Send an approved action to the workers, or hold it while the kill switch is engaged."""
    switch = killswitch.state(session)
    if switch.engaged:
        if not row.held:
            row.held = True
            detail = {"action_id": row.id, "reason": switch.reason, "by": switch.changed_by}
            note(session, row.incident_id, "action.held", "remediation", detail, now)
        return False
    command = approval.command(command_id=row.id)
    enqueue(session, REMEDIATION_COMMANDS, command)
    approval.start(now)
    row.held = False
    row.sent_at = now
    save(session, row, approval, via="system", now=now)
    return True


def release_held(*, session: Session, now: datetime) -> int:
    """Send the actions approved while the kill switch was engaged; returns how many."""
    query = (
        select(RemediationAction)
        .where(RemediationAction.state == ApprovalState.APPROVED.value)
        .where(RemediationAction.held.is_(True))
        .order_by(RemediationAction.created_at)
        .with_for_update(skip_locked=True)
    )
    sent = 0
    for row in session.scalars(query):
        sent += dispatch(session=session, row=row, approval=approval_of(session, row), now=now)
    return sent


def expire_due(
    *, session: Session, now: datetime, fallback_channel: str = DEFAULT_ESCALATION,
    limit: int = 200,
) -> int:  # fmt: skip
    """Expire unanswered requests past their TTL and escalate them; returns how many."""
    query = (
        select(RemediationAction)
        .where(RemediationAction.state == ApprovalState.PROPOSED.value)
        .where(RemediationAction.expires_at <= now)
        .order_by(RemediationAction.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    expired = 0
    for row in session.scalars(query):
        approval = approval_of(session, row)
        if approval.expire_if_due(now):
            save(session, row, approval, via="system", now=now, fallback_channel=fallback_channel)
            audit.record(
                session, actor=SYSTEM, action="remediation.expire", target_type="action",
                target_id=row.id, detail={"expires_at": row.expires_at.isoformat()},
            )  # fmt: skip
            expired += 1
    return expired
