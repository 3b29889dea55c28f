"""REST routes for remediation: policies, actions and their approval, the kill switch, and
success rates. Thin: they parse, call the service layer and shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.api.deps import Admin, Approver, Responder, SessionDep, TransactionDep, Viewer
from services.api.incidents import service as incidents
from services.api.incidents.schemas import decode_cursor, encode_cursor
from services.api.openapi import errors
from services.api.remediation import killswitch, outcomes, policies, service, store
from services.api.remediation.context import RemediationContext
from services.api.remediation.errors import PolicyConflict
from services.api.remediation.schemas import (
    ActionPage,
    ActionRead,
    DecisionRequest,
    DryRunRequest,
    KillSwitchRead,
    KillSwitchWrite,
    PlannedCallRead,
    PolicyRead,
    PolicyWrite,
    PreviewRead,
    ProposalRead,
    ProposeRequest,
    SuccessRateRead,
)
from services.core.errors import Conflict
from services.core.events import RemediationCommand, utcnow
from services.remediate.approvals import ApprovalState
from services.remediate.errors import Refused
from services.remediate.policies import PolicySet, propose

router = APIRouter(prefix="/api/v1", tags=["remediation"])

ActionId = Annotated[str, Path(max_length=64, description="The action's id.")]
PolicyName = Annotated[
    str, Path(max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="The policy's name.")
]
_SORT = "-created_at"


def _ctx(request: Request) -> RemediationContext:
    ctx: RemediationContext = request.app.state.remediation
    return ctx


# -- policies -----------------------------------------------------------------------------------


@router.get("/policies", response_model=list[PolicyRead], summary="Policies in force")
def list_policies(request: Request, session: SessionDep, _: Viewer) -> list[PolicyRead]:
    """File policies (read-only) and policies stored through the API."""
    return policies.views(session, _ctx(request).file_policies)


@router.get("/policies/{name}", response_model=PolicyRead, responses=errors(404))
def get_policy(request: Request, session: SessionDep, _: Viewer, name: PolicyName) -> PolicyRead:
    """One policy by name."""
    return policies.find(session, _ctx(request).file_policies, name)


@router.put("/policies/{name}", response_model=PolicyRead, responses=errors(409))
def put_policy(
    request: Request,
    response: Response,
    tx: TransactionDep,
    actor: Admin,
    name: PolicyName,
    body: PolicyWrite,
) -> PolicyRead:
    """Create or replace a policy (admin). 201 when new; 409 for a file policy's name."""
    with tx() as session:
        view, created = policies.put(
            session, _ctx(request).file_policies, name=name, body=body, actor=actor, now=utcnow()
        )
    response.status_code = 201 if created else 200
    return view


@router.delete("/policies/{name}", status_code=204, responses=errors(404, 409))
def delete_policy(request: Request, tx: TransactionDep, actor: Admin, name: PolicyName) -> None:
    """Delete a policy stored through the API (admin). Proposed actions stay."""
    with tx() as session:
        policies.delete(session, _ctx(request).file_policies, name=name, actor=actor)


@router.post(
    "/policies/dry-run",
    response_model=list[ProposalRead],
    summary="What the policies would propose for an incident",
    responses=errors(404),
)
def dry_run(
    request: Request, session: SessionDep, _: Viewer, body: DryRunRequest
) -> list[ProposalRead]:
    """The actions every matching policy would propose now; nothing is stored or sent."""
    incident = incidents.require_incident(session, body.incident_id)
    in_force = policies.in_force(session, _ctx(request).file_policies)
    facts = service.incident_facts(session, incident)
    return [
        ProposalRead(
            policy=p.policy, action=p.action, target=p.target, params=p.params, risk=p.risk,
            auto_approved=p.auto_approved, required_approvals=p.required_approvals,
        )
        for p in propose(in_force, facts)
    ]  # fmt: skip


# -- actions ------------------------------------------------------------------------------------


@router.get("/actions", response_model=ActionPage, summary="List actions", responses=errors(400))
def list_actions(
    session: SessionDep,
    _: Viewer,
    state: Annotated[list[ApprovalState] | None, Query(description="Repeat for OR.")] = None,
    incident_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ActionPage:
    """Proposed actions, newest first, filtered by state and incident; cursor-paginated."""
    before = decode_cursor(cursor, _SORT) if cursor else None
    rows = service.list_actions(
        session=session,
        state=[s.value for s in state or []],
        incident_id=incident_id,
        before=before,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.created_at, last.id, _SORT)
    return ActionPage(items=[store.read(session, r) for r in rows[:limit]], next_cursor=next_cursor)


@router.post("/actions", response_model=list[ActionRead], status_code=201, responses=errors(404))
def propose_actions(
    request: Request, tx: TransactionDep, actor: Responder, body: ProposeRequest
) -> list[ActionRead]:
    """Propose a policy's actions for an incident by hand (responder); the caller becomes the
    requester and can therefore not approve them. An action already proposed for the incident
    is not proposed again."""
    with tx() as session:
        incident = incidents.require_incident(session, body.incident_id)
        in_force = policies.in_force(session, _ctx(request).file_policies)
        chosen = PolicySet(policies=[p for p in in_force.policies if p.name == body.policy])
        if not chosen.policies:
            raise PolicyConflict(f"no policy named {body.policy!r} is in force")
        proposals = propose(chosen, service.incident_facts(session, incident))
        if not proposals:
            raise Conflict(f"policy {body.policy!r} does not match incident {incident.id}")
        rows = service.propose(
            session=session, incident=incident, proposals=proposals, requested_by=actor.name,
            episode=f"manual:{actor.name}", fallback_channel=_ctx(request).escalation_channel,
            link_base=_ctx(request).link_base,
        )  # fmt: skip
        return [store.read(session, r) for r in rows]


@router.get("/actions/{action_id}", response_model=ActionRead, responses=errors(404))
def get_action(session: SessionDep, _: Viewer, action_id: ActionId) -> ActionRead:
    """One action with its decisions."""
    return store.read(session, store.get_action(session, action_id))


@router.post("/actions/{action_id}/approve", response_model=ActionRead, responses=errors(404, 409))
def approve(
    tx: TransactionDep, actor: Approver, action_id: ActionId, body: DecisionRequest | None = None
) -> ActionRead:
    """Approve (approver). Once N of M approved, the action is sent to the workers. 403: the
    requester or policy owner (no self-approval), or not among the policy's approvers;
    409: already decided or expired."""
    with tx() as session:
        return service.decide_as(
            session, action_id=action_id, principal=actor, decision="approve", via="api",
            comment=body.comment if body else None,
        )  # fmt: skip


@router.post("/actions/{action_id}/reject", response_model=ActionRead, responses=errors(404, 409))
def reject(
    tx: TransactionDep, actor: Approver, action_id: ActionId, body: DecisionRequest | None = None
) -> ActionRead:
    """Reject (approver); one rejection closes the request."""
    with tx() as session:
        return service.decide_as(
            session, action_id=action_id, principal=actor, decision="reject", via="api",
            comment=body.comment if body else None,
        )  # fmt: skip


@router.get(
    "/actions/{action_id}/preview",
    response_model=PreviewRead,
    summary="Dry run: what the action would send",
    responses=errors(404, 409),
)
def preview(request: Request, session: SessionDep, _: Viewer, action_id: ActionId) -> PreviewRead:
    """Each request (or process) the action would make, secrets redacted; nothing is sent.
    409 when no executor for the action is configured here or its params are refused."""
    row = store.get_action(session, action_id)
    command = RemediationCommand(
        id=row.id, incident_id=row.incident_id, request_id=row.id, action=row.action,
        target=row.target, params=dict(row.params or {}),
    )  # fmt: skip
    try:
        plan = _ctx(request).registry.preview(command)
    except Refused as exc:
        raise Conflict(str(exc)) from exc
    calls = [
        PlannedCallRead(
            method=c.method, url=c.url, content_type=c.content_type, headers=dict(c.headers),
            body=c.body, argv=list(c.argv), purpose=c.purpose,
        )
        for c in plan.calls
    ]  # fmt: skip
    return PreviewRead(action_id=row.id, action=plan.action, target=plan.target, calls=calls)


# -- kill switch, success rates ------------------------------------------------------------------


@router.get("/remediation/kill-switch", response_model=KillSwitchRead)
def get_kill_switch(session: SessionDep, _: Viewer) -> KillSwitchRead:
    """Whether automation is stopped, by whom and why."""
    row = killswitch.state(session)
    return KillSwitchRead(
        engaged=row.engaged, reason=row.reason, changed_by=row.changed_by,
        changed_at=row.changed_at,
    )  # fmt: skip


@router.put("/remediation/kill-switch", response_model=KillSwitchRead)
def put_kill_switch(
    request: Request, tx: TransactionDep, actor: Admin, body: KillSwitchWrite
) -> KillSwitchRead:
    """Engage (stop every action, in the api and in the workers) or release (admin).
    Actions approved meanwhile are held, and sent on release."""
    now = utcnow()
    with tx() as session:
        row = killswitch.set_state(
            session, engaged=body.engaged, reason=body.reason, actor=actor, now=now
        )
        if not row.engaged:
            service.release_held(session=session, now=now)
        answer = KillSwitchRead(
            engaged=row.engaged, reason=row.reason, changed_by=row.changed_by,
            changed_at=row.changed_at,
        )  # fmt: skip
    _ctx(request).on_kill_switch()
    return answer


@router.get("/remediation/success-rates", response_model=list[SuccessRateRead])
def success_rates(session: SessionDep, _: Viewer) -> list[SuccessRateRead]:
    """Attempts, outcomes and verified/attempts per runbook (action) and incident kind."""
    return [SuccessRateRead.model_validate(r) for r in outcomes.success_rates(session)]
