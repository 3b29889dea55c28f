"""The approval state machine: N of M, no self-approval, expiry and escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from services.remediate.approvals import Approval, ApprovalState, Escalation, Transition
from services.remediate.errors import ApprovalError, NotAnApprover, SelfApproval
from services.remediate.policies import ProposedAction
from tests.unit.remediate_fakes import T0

PROPOSAL = ProposedAction(
    policy="scale-checkout",
    owner="alice",
    incident_id="inc-1",
    action="k8s.scale",
    target="prod/checkout",
    params={"replicas": 6},
    risk="medium",
    auto_approved=False,
    required_approvals=2,
    approvers=("alice", "bob", "carol", "dan"),
    ttl=timedelta(minutes=15),
    escalate_to="oncall-payments",
)


def opened(proposal: ProposedAction = PROPOSAL, requested_by: str = "erin") -> Approval:
    return Approval.open(request_id="req-1", proposal=proposal, requested_by=requested_by, at=T0)


def state_of(approval: Approval) -> ApprovalState:
    return approval.state  # a call, so mypy does not narrow between asserts


def test_needs_n_distinct_approvers() -> None:
    approval = opened()
    approval.approve("bob", T0)
    assert state_of(approval) == ApprovalState.PROPOSED
    with pytest.raises(ApprovalError, match="already approved"):
        approval.approve("bob", T0 + timedelta(minutes=1))
    assert state_of(approval) == ApprovalState.PROPOSED
    approval.approve("carol", T0 + timedelta(minutes=2))
    assert state_of(approval) == ApprovalState.APPROVED
    assert approval.approved_by == ["bob", "carol"]


def test_requester_cannot_approve_their_own_action() -> None:
    approval = opened(requested_by="bob")
    with pytest.raises(SelfApproval):
        approval.approve("bob", T0)
    assert approval.approved_by == []


def test_policy_owner_cannot_approve() -> None:
    with pytest.raises(SelfApproval):
        opened().approve("alice", T0)


def test_only_listed_approvers_count() -> None:
    with pytest.raises(NotAnApprover):
        opened().approve("mallory", T0)


def test_unanswered_approval_expires_after_ttl_and_escalates() -> None:
    approval = opened()
    approval.approve("bob", T0)
    assert not approval.expire_if_due(T0 + timedelta(minutes=14))
    assert approval.expire_if_due(T0 + timedelta(minutes=15))
    assert state_of(approval) == ApprovalState.EXPIRED
    escalation = approval.pending_events[-1]
    assert isinstance(escalation, Escalation)
    assert escalation.to == "oncall-payments"
    assert "1/2 approvals" in escalation.reason
    assert not approval.expire_if_due(T0 + timedelta(hours=1))  # only once


def test_late_approval_is_refused_and_expires_the_request() -> None:
    approval = opened()
    with pytest.raises(ApprovalError, match="expired"):
        approval.approve("bob", T0 + timedelta(minutes=16))
    assert state_of(approval) == ApprovalState.EXPIRED


def test_escalation_goes_to_the_owner_without_an_escalation_target() -> None:
    approval = opened(replace(PROPOSAL, escalate_to=""))
    approval.expire_if_due(T0 + timedelta(hours=1))
    assert isinstance(approval.pending_events[-1], Escalation)
    assert approval.pending_events[-1].to == "alice"


def test_one_rejection_closes_the_request() -> None:
    approval = opened()
    approval.approve("bob", T0)
    approval.reject("carol", T0, "too risky on a Friday")
    assert state_of(approval) == ApprovalState.REJECTED
    with pytest.raises(ApprovalError):
        approval.approve("dan", T0)


def test_low_risk_auto_approved_action_is_approved_by_the_policy() -> None:
    approval = opened(replace(PROPOSAL, risk="low", auto_approved=True))
    assert state_of(approval) == ApprovalState.APPROVED
    assert approval.approved_by == ["policy:scale-checkout"]


def test_full_lifecycle_records_every_transition() -> None:
    approval = opened()
    approval.approve("bob", T0)
    approval.approve("dan", T0)
    approval.start(T0)
    approval.finish(succeeded=True, at=T0)
    approval.verified(T0, "signals recovered")
    states = [e.to_state for e in approval.pending_events if isinstance(e, Transition)]
    assert states == [
        ApprovalState.APPROVED,
        ApprovalState.EXECUTING,
        ApprovalState.SUCCEEDED,
        ApprovalState.VERIFIED,
    ]


def test_failed_action_can_only_be_rolled_back() -> None:
    approval = opened(replace(PROPOSAL, required_approvals=1))
    approval.approve("bob", T0)
    approval.start(T0)
    approval.finish(succeeded=False, at=T0)
    with pytest.raises(ApprovalError):
        approval.verified(T0)
    approval.rolled_back(T0)
    assert state_of(approval) == ApprovalState.ROLLED_BACK


def test_a_succeeded_action_that_did_not_help_becomes_failed_not_verified() -> None:
    approval = opened(replace(PROPOSAL, required_approvals=1))
    approval.approve("bob", T0)
    approval.start(T0)
    approval.finish(succeeded=True, at=T0)
    approval.unverified(T0, "still firing")
    assert state_of(approval) == ApprovalState.FAILED
    with pytest.raises(ApprovalError):
        approval.verified(T0)


def test_cannot_execute_before_approval() -> None:
    with pytest.raises(ApprovalError):
        opened().start(T0)


def test_approved_action_becomes_a_command_carrying_its_approvers() -> None:
    approval = opened()
    with pytest.raises(ApprovalError):
        approval.command(command_id="cmd-1")
    approval.approve("bob", T0)
    approval.approve("dan", T0)
    command = approval.command(command_id="cmd-1")
    assert (command.id, command.request_id, command.action, command.target) == (
        "cmd-1",
        "req-1",
        "k8s.scale",
        "prod/checkout",
    )
    assert command.params == {"replicas": 6}
    assert command.approved_by == ["bob", "dan"]
