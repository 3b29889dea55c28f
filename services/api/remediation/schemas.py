"""API schemas of remediation, kept apart from the ORM models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.remediate.approvals import ApprovalState
from services.remediate.policies import ActionSpec, ApprovalRule, Match

_ACTION_EXAMPLE: dict[str, Any] = {
    "id": "7c1e0f5a2b3d4e5f8a9b0c1d2e3f4a5b",
    "incident_id": "5f0c1d2e3a4b4c5d8e9f001122334455",
    "policy": "restart-checkout",
    "owner": "alice",
    "action": "k8s.restart",
    "target": "prod/checkout",
    "params": {},
    "risk": "medium",
    "incident_kind": "metric",
    "state": "proposed",
    "requested_by": "policy:restart-checkout",
    "auto_approved": False,
    "required_approvals": 2,
    "approvers": ["bob", "carol", "dan"],
    "approved_by": ["bob"],
    "escalate_to": "oncall-payments",
    "created_at": "2026-11-27T10:00:05Z",
    "updated_at": "2026-11-27T10:02:00Z",
    "expires_at": "2026-11-27T10:15:05Z",
    "held": False,
    "sent_at": None,
    "finished_at": None,
    "result_status": None,
    "result_detail": "",
    "verdict": "",
    "decisions": [
        {
            "actor": "bob",
            "verdict": "approve",
            "via": "api",
            "at": "2026-11-27T10:02:00Z",
            "comment": "",
        }
    ],
}


class DecisionRead(BaseModel):
    """One decision on an action."""

    model_config = ConfigDict(from_attributes=True)

    actor: str
    verdict: str = Field(description="approve, reject or expire.")
    via: str = Field(description="Where it was made: api, slack, policy, system.")
    at: datetime
    comment: str = ""


class ActionRead(BaseModel):
    """A proposed action and where it stands."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [_ACTION_EXAMPLE]}
    )

    id: str = Field(description="Also the idempotency key of the command sent to the workers.")
    incident_id: str
    policy: str
    owner: str
    action: str
    target: str
    params: dict[str, Any]
    risk: Literal["low", "medium", "high"]
    incident_kind: str
    state: ApprovalState
    requested_by: str
    auto_approved: bool
    required_approvals: int
    approvers: list[str] = Field(description="Who may decide; empty: any approver.")
    approved_by: list[str]
    escalate_to: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    held: bool = Field(description="Approved while the kill switch was engaged; not sent yet.")
    sent_at: datetime | None
    finished_at: datetime | None
    result_status: str | None
    result_detail: str
    verdict: str = Field(description="What verification concluded, and why.")
    decisions: list[DecisionRead] = Field(default_factory=list)


class ActionPage(BaseModel):
    items: list[ActionRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class DecisionRequest(BaseModel):
    """An optional comment kept with the decision."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "checked the dashboards"}]}
    )

    comment: str = Field(default="", max_length=2000)


class ProposeRequest(BaseModel):
    """Propose the actions of a policy for an incident, by hand."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"incident_id": "5f0c1d2e3a4b4c5d8e9f001122334455", "policy": "restart-checkout"}
            ]
        },
    )

    incident_id: str = Field(min_length=1, max_length=64)
    policy: str = Field(min_length=1, max_length=128)


class PlannedCallRead(BaseModel):
    """One request (or process) the action would make; secrets are redacted."""

    method: str
    url: str
    content_type: str
    headers: dict[str, str]
    body: Any
    argv: list[str]
    purpose: str


class PreviewRead(BaseModel):
    """The dry run of an action: what it would send, without sending it."""

    action_id: str
    action: str
    target: str
    calls: list[PlannedCallRead]


class KillSwitchRead(BaseModel):
    engaged: bool
    reason: str
    changed_by: str
    changed_at: datetime | None


class KillSwitchWrite(BaseModel):
    """Engage (stop all automation) or release the kill switch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"engaged": True, "reason": "bad deploy in progress"}]},
    )

    engaged: bool
    reason: str = Field(default="", max_length=2000)


class SuccessRateRead(BaseModel):
    """Outcomes of one runbook (action) on one kind of incident."""

    runbook: str
    incident_kind: str
    attempts: int
    succeeded: int
    failed: int
    verified: int
    rolled_back: int
    success_rate: float | None = Field(description="verified / attempts; null before any.")


class PolicyWrite(BaseModel):
    """A policy stored through the API (the name is in the path)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "owner": "alice",
                    "match": {"services": ["checkout"], "min_severity": "error"},
                    "actions": [{"action": "k8s.restart", "target": "prod/{service}"}],
                    "approval": {"required": 1, "ttl": "15m"},
                }
            ]
        },
    )

    owner: str = Field(default="", max_length=128)
    enabled: bool = True
    match: Match = Field(default_factory=Match)
    actions: list[ActionSpec] = Field(min_length=1, max_length=20)
    approval: ApprovalRule = Field(default_factory=ApprovalRule)


class ApprovalRuleRead(BaseModel):
    auto_approve: bool
    required: int
    approvers: list[str]
    ttl_s: float
    escalate_to: str


class PolicyRead(BaseModel):
    name: str
    source: Literal["file", "api"] = Field(description="file: read-only, from the policy files.")
    owner: str
    enabled: bool
    match: Match
    actions: list[ActionSpec]
    approval: ApprovalRuleRead


class DryRunRequest(BaseModel):
    """Which actions the policies would propose for an incident, without proposing them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"incident_id": "5f0c1d2e3a4b4c5d8e9f001122334455"}]},
    )

    incident_id: str = Field(min_length=1, max_length=64)


class ProposalRead(BaseModel):
    policy: str
    action: str
    target: str
    params: dict[str, Any]
    risk: str
    auto_approved: bool
    required_approvals: int
