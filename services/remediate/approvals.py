"""The approval state machine of one proposed action (pure; the api persists it).

    proposed ──approve (N of M)──> approved ──> executing ──> succeeded ──> verified
        │                                           │              ├──────> rolled_back
        │                                           │              └──────> failed (unverified)
        ├──reject──> rejected                       └──> failed ──────────> rolled_back
        └──TTL passes──> expired (+ an escalation)

Every decision is kept (who, what, when) so the api can audit it; state changes are recorded
as events in `pending_events` for the caller to publish, never sent from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.core.events import RemediationCommand
from services.remediate.errors import ApprovalError, NotAnApprover, SelfApproval
from services.remediate.policies import ProposedAction

POLICY_ACTOR_PREFIX = "policy:"


class ApprovalState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    VERIFIED = "verified"
    ROLLED_BACK = "rolled_back"


_ALLOWED: dict[ApprovalState, frozenset[ApprovalState]] = {
    ApprovalState.PROPOSED: frozenset(
        {ApprovalState.APPROVED, ApprovalState.REJECTED, ApprovalState.EXPIRED}
    ),
    ApprovalState.APPROVED: frozenset({ApprovalState.EXECUTING, ApprovalState.REJECTED}),
    ApprovalState.EXECUTING: frozenset({ApprovalState.SUCCEEDED, ApprovalState.FAILED}),
    # succeeded -> failed: it ran, but verification saw no recovery and there is no rollback.
    ApprovalState.SUCCEEDED: frozenset(
        {ApprovalState.VERIFIED, ApprovalState.ROLLED_BACK, ApprovalState.FAILED}
    ),
    ApprovalState.FAILED: frozenset({ApprovalState.ROLLED_BACK}),
}


@dataclass(frozen=True)
class Decision:
    """One audited decision on an approval."""

    actor: str
    verdict: str  # approve | reject | expire | system
    at: datetime
    comment: str = ""


@dataclass(frozen=True)
class Transition:
    """A state change, to be put on the incident's timeline by the caller."""

    request_id: str
    from_state: ApprovalState
    to_state: ApprovalState
    actor: str
    at: datetime
    detail: str = ""


@dataclass(frozen=True)
class Escalation:
    """An unanswered approval expired: someone (`to`) must be told."""

    request_id: str
    incident_id: str
    to: str
    at: datetime
    reason: str


@dataclass
class Approval:
    """One proposed action waiting for (or past) approval."""

    request_id: str
    proposal: ProposedAction
    requested_by: str
    created_at: datetime
    state: ApprovalState = ApprovalState.PROPOSED
    decisions: list[Decision] = field(default_factory=list)
    pending_events: list[Transition | Escalation] = field(default_factory=list)

    @classmethod
    def open(
        cls, *, request_id: str, proposal: ProposedAction, requested_by: str, at: datetime
    ) -> Approval:
        """A new approval; a low-risk action whose policy allows it is approved at once."""
        approval = cls(request_id, proposal, requested_by, at)
        if proposal.auto_approved:
            actor = POLICY_ACTOR_PREFIX + proposal.policy
            approval.decisions.append(Decision(actor, "approve", at, "auto-approved (low risk)"))
            approval._move(ApprovalState.APPROVED, actor, at, "auto-approved by policy")
        return approval

    @property
    def expires_at(self) -> datetime:
        """When an unanswered request expires."""
        return self.created_at + self.proposal.ttl

    @property
    def approved_by(self) -> list[str]:
        """Distinct approvers so far, in decision order."""
        seen: list[str] = []
        for d in self.decisions:
            if d.verdict == "approve" and d.actor not in seen:
                seen.append(d.actor)
        return seen

    def approve(self, actor: str, at: datetime, comment: str = "") -> None:
        """Record an approval; the action becomes approved once N distinct people agree."""
        self._require_open(at)
        if actor in {self.requested_by, self.proposal.owner}:
            raise SelfApproval(f"{actor} requested this action or owns its policy")
        if self.proposal.approvers and actor not in self.proposal.approvers:
            raise NotAnApprover(f"{actor} is not an approver of policy {self.proposal.policy}")
        if actor in self.approved_by:
            raise ApprovalError(f"{actor} already approved this action")
        self.decisions.append(Decision(actor, "approve", at, comment))
        if len(self.approved_by) >= self.proposal.required_approvals:
            self._move(ApprovalState.APPROVED, actor, at, ", ".join(self.approved_by))

    def reject(self, actor: str, at: datetime, comment: str = "") -> None:
        """One rejection from an eligible person closes the request."""
        self._require_open(at)
        if self.proposal.approvers and actor not in self.proposal.approvers:
            raise NotAnApprover(f"{actor} is not an approver of policy {self.proposal.policy}")
        self.decisions.append(Decision(actor, "reject", at, comment))
        self._move(ApprovalState.REJECTED, actor, at, comment)

    def expire_if_due(self, now: datetime) -> bool:
        """Expire an unanswered request after its TTL and escalate; True if it expired now."""
        if self.state is not ApprovalState.PROPOSED or now < self.expires_at:
            return False
        self.decisions.append(Decision("system", "expire", now, "approval TTL passed"))
        self._move(ApprovalState.EXPIRED, "system", now, "no decision before the TTL")
        self.pending_events.append(
            Escalation(
                request_id=self.request_id,
                incident_id=self.proposal.incident_id,
                to=self.proposal.escalate_to or self.proposal.owner,
                at=now,
                reason=(
                    f"{self.proposal.action} on {self.proposal.target} got "
                    f"{len(self.approved_by)}/{self.proposal.required_approvals} approvals "
                    "before it expired"
                ),
            )
        )
        return True

    def command(self, *, command_id: str) -> RemediationCommand:
        """The command to send once approved (`command_id` is its idempotency key)."""
        if self.state is not ApprovalState.APPROVED:
            raise ApprovalError(f"approval is {self.state}; only approved actions run")
        p = self.proposal
        return RemediationCommand(
            id=command_id,
            incident_id=p.incident_id,
            request_id=self.request_id,
            action=p.action,
            target=p.target,
            params=dict(p.params),
            approved_by=self.approved_by,
        )

    def start(self, at: datetime) -> None:
        """The command was sent to the workers."""
        self._move(ApprovalState.EXECUTING, "system", at)

    def finish(self, *, succeeded: bool, at: datetime, detail: str = "") -> None:
        """The worker reported a result."""
        to = ApprovalState.SUCCEEDED if succeeded else ApprovalState.FAILED
        self._move(to, "system", at, detail)

    def verified(self, at: datetime, detail: str = "") -> None:
        """Verification saw the incident's signals recover."""
        self._move(ApprovalState.VERIFIED, "system", at, detail)

    def unverified(self, at: datetime, detail: str = "") -> None:
        """Verification saw no recovery and the action has no rollback."""
        self._move(ApprovalState.FAILED, "system", at, detail)

    def rolled_back(self, at: datetime, detail: str = "") -> None:
        """Verification failed (or the action failed) and the change was undone."""
        self._move(ApprovalState.ROLLED_BACK, "system", at, detail)

    def _require_open(self, at: datetime) -> None:
        self.expire_if_due(at)
        if self.state is not ApprovalState.PROPOSED:
            raise ApprovalError(f"approval is {self.state}, no longer open for decisions")

    def _move(self, to: ApprovalState, actor: str, at: datetime, detail: str = "") -> None:
        if to not in _ALLOWED.get(self.state, frozenset()):
            raise ApprovalError(f"cannot go from {self.state} to {to}")
        self.pending_events.append(Transition(self.request_id, self.state, to, actor, at, detail))
        self.state = to
