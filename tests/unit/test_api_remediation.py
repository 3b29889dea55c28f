"""Remediation through the API over SQLite: proposals from policies, N-of-M approval, no
self-approval, expiry with escalation, the kill switch, dry-run preview, results, verification
and success rates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.incidents import activity
from services.api.incidents.models import Incident
from services.api.incidents.service import incident_event
from services.api.incidents.signals import IncidentPolicy, record_alert
from services.api.outbox import OutboxMessage
from services.api.remediation import automation, outcomes, service
from services.api.remediation.context import RemediationContext
from services.api.remediation.errors import (
    AlreadyDecided,
    Expired,
    NotAllowed,
    RemediationError,
    SelfApprovalRefused,
)
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import (
    IncidentEventType,
    RemediationCommand,
    RemediationRequest,
    RemediationResult,
    utcnow,
)
from services.remediate.executors.base import (
    Executor,
    ExecutorRegistry,
    Outcome,
    PlannedCall,
    RollbackPlan,
)
from services.remediate.executors.demo import DemoCluster, DemoExecutor
from services.remediate.policies import parse_policies
from tests.factories import alert, make_key

POLICIES = """
policies:
  - name: restart-checkout
    owner: olivia
    match: {services: [checkout], min_severity: warning}
    actions:
      - {action: demo.restart, target: "{service}", risk: medium}
    approval:
      required: 2
      approvers: [alice, bob, carol, olivia]
      ttl: 10m
      escalate_to: oncall-payments
  - name: auto-restart-search
    match: {services: [search]}
    actions:
      - {action: demo.restart, target: "{service}", risk: low}
    approval: {auto_approve: true}
"""


@dataclass
class World:
    factory: sessionmaker[Session]
    client: TestClient
    keys: dict[str, str]
    ctx: RemediationContext

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def open_incident(self, service_name: str = "checkout") -> str:
        with transaction(self.factory) as session:
            record_alert(
                session=session,
                alert=alert(service=service_name, fingerprint=f"fp-{service_name}"),
                policy=IncidentPolicy(),
            )
            incident = session.scalars(
                select(Incident).where(Incident.service == service_name)
            ).one()
            event = incident_event(incident, IncidentEventType.OPENED, cause="t")
            automation.on_incident_events(session=session, ctx=self.ctx, events=[event])
            return incident.id

    def outbox(self, topic: str) -> list[dict[str, Any]]:
        with self.factory() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic))
            return [json.loads(r.payload) for r in rows]

    def timeline(self, incident_id: str) -> list[str]:
        entries = self.client.get(
            f"/api/v1/incidents/{incident_id}/timeline", headers=self.as_("admin")
        ).json()
        return [e["kind"] for e in entries]


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    ctx = RemediationContext(
        file_policies=parse_policies(POLICIES),
        registry=ExecutorRegistry([DemoExecutor(DemoCluster.of(["checkout", "search"]))]),
        verify_window=timedelta(minutes=5),
        verify_settle=timedelta(0),
    )
    roles = {"alice": "approver", "bob": "approver", "carol": "approver", "olivia": "approver",
             "viewer": "viewer", "responder": "responder", "admin": "admin"}  # fmt: skip
    keys = {name: make_key(factory, role, name) for name, role in roles.items()}
    with TestClient(create_app(factory, remediation=ctx)) as client:
        yield World(factory, client, keys, ctx)
    engine.dispose()


def _action(world: World, incident_id: str) -> dict[str, Any]:
    page = world.client.get(
        "/api/v1/actions", params={"incident_id": incident_id}, headers=world.as_("viewer")
    ).json()
    assert len(page["items"]) == 1
    return dict(page["items"][0])


def test_a_matching_policy_proposes_an_action_once(world: World) -> None:
    incident_id = world.open_incident()
    action = _action(world, incident_id)
    assert action["state"] == "proposed"
    assert (action["action"], action["target"], action["required_approvals"]) == (
        "demo.restart", "checkout", 2,
    )  # fmt: skip
    assert action["incident_kind"] == "alert"
    with transaction(world.factory) as session:  # a redelivered incident event adds nothing
        incident = session.get(Incident, incident_id)
        assert incident is not None
        event = incident_event(incident, IncidentEventType.UPDATED, cause="again")
        assert automation.on_incident_events(session=session, ctx=world.ctx, events=[event]) == 0
    assert "action.proposed" in world.timeline(incident_id)
    requests = world.outbox("remediation.requests")
    assert [r["id"] for r in requests] == [action["id"]]
    # The api's own consumer of remediation.requests records the proposal only once.
    with transaction(world.factory) as session:
        echo = RemediationRequest.model_validate(requests[0])
        assert activity.record_activity(session=session, events=[echo]) == 0
    assert world.timeline(incident_id).count("action.proposed") == 1


def test_two_of_m_approvers_send_the_command_with_the_action_id(world: World) -> None:
    action_id = _action(world, world.open_incident())["id"]
    first = world.client.post(f"/api/v1/actions/{action_id}/approve", headers=world.as_("alice"))
    assert first.status_code == 200 and first.json()["state"] == "proposed"
    assert world.outbox("remediation.commands") == []
    again = world.client.post(f"/api/v1/actions/{action_id}/approve", headers=world.as_("alice"))
    assert again.status_code == 409  # one person counts once
    second = world.client.post(
        f"/api/v1/actions/{action_id}/approve", json={"comment": "ok"}, headers=world.as_("bob")
    )
    body = second.json()
    assert body["state"] == "executing" and body["approved_by"] == ["alice", "bob"]
    assert [(d["actor"], d["via"]) for d in body["decisions"]] == [("alice", "api"), ("bob", "api")]
    commands = world.outbox("remediation.commands")
    assert [(c["id"], c["action"], c["target"]) for c in commands] == [
        (action_id, "demo.restart", "checkout")
    ]
    assert commands[0]["approved_by"] == ["alice", "bob"]
    audit = world.client.get(
        "/api/v1/audit", params={"target_id": action_id}, headers=world.as_("admin")
    ).json()["items"]
    assert {a["action"] for a in audit} >= {"remediation.approve", "remediation.propose"}


def test_the_policy_owner_and_the_requester_cannot_approve(world: World) -> None:
    incident_id = world.open_incident()
    action_id = _action(world, incident_id)["id"]
    owner = world.client.post(f"/api/v1/actions/{action_id}/approve", headers=world.as_("olivia"))
    assert owner.status_code == 403 and "cannot approve" in owner.json()["detail"]
    # A person who proposes an action by hand is its requester.
    world.client.put(
        "/api/v1/policies/manual-restart",
        json={"actions": [{"action": "demo.restart", "target": "{service}"}]},
        headers=world.as_("admin"),
    )
    proposed = world.client.post(
        "/api/v1/actions",
        json={"incident_id": incident_id, "policy": "manual-restart"},
        headers=world.as_("carol"),
    )
    assert proposed.status_code == 201, proposed.text
    manual = proposed.json()[0]
    assert manual["requested_by"] == "carol"
    own = world.client.post(f"/api/v1/actions/{manual['id']}/approve", headers=world.as_("carol"))
    assert own.status_code == 403
    other = world.client.post(f"/api/v1/actions/{manual['id']}/approve", headers=world.as_("bob"))
    assert other.status_code == 200 and other.json()["state"] == "executing"


def test_only_listed_approvers_and_the_approver_role_may_decide(world: World) -> None:
    action_id = _action(world, world.open_incident())["id"]
    for who in ("viewer", "responder"):
        denied = world.client.post(f"/api/v1/actions/{action_id}/approve", headers=world.as_(who))
        assert denied.status_code == 403
    unlisted = world.client.post(f"/api/v1/actions/{action_id}/reject", headers=world.as_("admin"))
    assert unlisted.status_code == 403 and "not an approver" in unlisted.json()["detail"]


def test_one_rejection_closes_the_request(world: World) -> None:
    incident_id = world.open_incident()
    action_id = _action(world, incident_id)["id"]
    rejected = world.client.post(
        f"/api/v1/actions/{action_id}/reject", json={"comment": "no"}, headers=world.as_("bob")
    )
    assert rejected.json()["state"] == "rejected"
    late = world.client.post(f"/api/v1/actions/{action_id}/approve", headers=world.as_("alice"))
    assert late.status_code == 409
    assert "approval.rejected" in world.timeline(incident_id)
    assert world.outbox("remediation.commands") == []


def test_decide_raises_remediation_errors_with_messages(world: World) -> None:
    action_id = _action(world, world.open_incident())["id"]
    with transaction(world.factory) as session:
        with pytest.raises(SelfApprovalRefused) as owner:
            service.decide(session, action_id=action_id, actor="olivia", decision="approve",
                           via="slack")  # fmt: skip
        assert "olivia" in str(owner.value)
        with pytest.raises(NotAllowed):
            service.decide(session, action_id=action_id, actor="mallory", decision="approve",
                           via="slack")  # fmt: skip
        with pytest.raises(RemediationError):
            service.decide(
                session, action_id="nope", actor="alice", decision="approve", via="slack"
            )
        view = service.decide(session, action_id=action_id, actor="alice", decision="reject",
                              via="slack", comment="not now")  # fmt: skip
        assert view.state == "rejected" and view.decisions[0].via == "slack"
        with pytest.raises(AlreadyDecided):
            service.decide(session, action_id=action_id, actor="bob", decision="approve",
                           via="slack")  # fmt: skip


def test_an_unanswered_request_expires_and_escalates(world: World) -> None:
    incident_id = world.open_incident()
    action = _action(world, incident_id)
    later = utcnow() + timedelta(minutes=11)
    with transaction(world.factory) as session:
        with pytest.raises(Expired):
            service.decide(session, action_id=action["id"], actor="alice", decision="approve",
                           via="api", now=later)  # fmt: skip
    with transaction(world.factory) as session:
        assert service.expire_due(session=session, now=utcnow()) == 0  # not yet due
        assert service.expire_due(session=session, now=later) == 1
    assert _action(world, incident_id)["state"] == "expired"
    kinds = world.timeline(incident_id)
    assert "approval.expired" in kinds and "approval.escalated" in kinds
    pages = world.outbox("notifications")
    assert [(p["channel"], p["event_type"]) for p in pages] == [
        ("oncall-payments", "remediation.approval_expired")
    ]
    late = world.client.post(f"/api/v1/actions/{action['id']}/approve", headers=world.as_("bob"))
    assert late.status_code == 409


def test_a_low_risk_action_is_approved_by_its_policy_and_sent(world: World) -> None:
    incident_id = world.open_incident("search")
    action = _action(world, incident_id)
    assert action["state"] == "executing" and action["auto_approved"]
    assert action["approved_by"] == ["policy:auto-restart-search"]
    assert action["decisions"][0]["via"] == "policy"
    assert [c["id"] for c in world.outbox("remediation.commands")] == [action["id"]]
    kinds = world.timeline(incident_id)
    assert (
        kinds.index("action.proposed")
        < kinds.index("approval.approved")
        < kinds.index("action.sent")
    )


def test_the_kill_switch_holds_approved_actions_until_released(world: World) -> None:
    engage = {"engaged": True, "reason": "bad deploy"}
    url = "/api/v1/remediation/kill-switch"
    assert world.client.put(url, json=engage, headers=world.as_("alice")).status_code == 403
    on = world.client.put(
        "/api/v1/remediation/kill-switch", json=engage, headers=world.as_("admin")
    )
    assert on.status_code == 200 and on.json()["engaged"] and on.json()["changed_by"] == "admin"
    incident_id = world.open_incident("search")  # auto-approved, but held
    action = _action(world, incident_id)
    assert action["state"] == "approved" and action["held"]
    assert world.outbox("remediation.commands") == []
    assert "action.held" in world.timeline(incident_id)
    off = world.client.put(
        "/api/v1/remediation/kill-switch", json={"engaged": False}, headers=world.as_("admin")
    )
    assert off.json()["engaged"] is False
    assert [c["id"] for c in world.outbox("remediation.commands")] == [action["id"]]
    assert _action(world, incident_id)["state"] == "executing"
    audit = world.client.get(
        "/api/v1/audit", params={"target_type": "kill_switch"}, headers=world.as_("admin")
    ).json()["items"]
    assert [a["action"] for a in audit] == [
        "remediation.kill_switch.release", "remediation.kill_switch.engage"
    ]  # fmt: skip


def test_preview_shows_what_would_run_without_running_it(world: World) -> None:
    action_id = _action(world, world.open_incident())["id"]
    preview = world.client.get(f"/api/v1/actions/{action_id}/preview", headers=world.as_("viewer"))
    assert preview.status_code == 200
    assert preview.json()["calls"][0]["url"] == "demo://checkout"
    assert world.outbox("remediation.commands") == []


def test_results_verification_and_success_rates(world: World) -> None:
    incident_id = world.open_incident("search")
    action = _action(world, incident_id)
    now = utcnow()
    result = RemediationResult(
        id=f"result-{action['id']}", command_id=action["id"], incident_id=incident_id,
        status="succeeded", detail="restarted search", action="demo.restart", target="search",
        started_at=now, finished_at=now,
    )  # fmt: skip
    with transaction(world.factory) as session:
        automation.after_activity(session, world.ctx, [result])
    assert _action(world, incident_id)["state"] == "succeeded"  # the alert still fires
    with transaction(world.factory) as session:
        record_alert(
            session=session,
            alert=alert("resolved", service="search", fingerprint="fp-search", minute=1),
            policy=IncidentPolicy(),
        )
    with transaction(world.factory) as session:
        assert outcomes.verify(session=session, ctx=world.ctx, now=utcnow()) == 1
    done = _action(world, incident_id)
    assert done["state"] == "verified" and done["verdict"]
    incident = world.client.get(f"/api/v1/incidents/{incident_id}", headers=world.as_("viewer"))
    assert incident.json()["status"] == "resolved"
    assert "action.verified" in world.timeline(incident_id)
    rates = world.client.get("/api/v1/remediation/success-rates", headers=world.as_("viewer"))
    assert rates.json() == [
        {"runbook": "demo.restart", "incident_kind": "alert", "attempts": 1, "succeeded": 1,
         "failed": 0, "verified": 1, "rolled_back": 0, "success_rate": 1.0}
    ]  # fmt: skip


def test_unverified_action_is_escalated_after_the_window(world: World) -> None:
    incident_id = world.open_incident("search")
    action = _action(world, incident_id)
    acted = utcnow()
    result = RemediationResult(
        command_id=action["id"], incident_id=incident_id, status="succeeded",
        started_at=acted, finished_at=acted,
    )  # fmt: skip
    with transaction(world.factory) as session:
        automation.after_activity(session, world.ctx, [result])
        later = acted + timedelta(minutes=6)
        assert outcomes.verify(session=session, ctx=world.ctx, now=later) == 1
    assert _action(world, incident_id)["state"] == "failed"
    assert "action.unverified" in world.timeline(incident_id)
    assert [p["event_type"] for p in world.outbox("notifications")] == [
        "remediation.verification_failed"
    ]
    rates = world.client.get("/api/v1/remediation/success-rates", headers=world.as_("viewer"))
    assert rates.json()[0]["success_rate"] == 0.0


def test_policies_through_the_api(world: World) -> None:
    names = [
        p["name"] for p in world.client.get("/api/v1/policies", headers=world.as_("viewer")).json()
    ]
    assert names == ["restart-checkout", "auto-restart-search"]
    body = {"actions": [{"action": "demo.restart", "target": "{service}", "risk": "low"}],
            "approval": {"ttl": "5m", "required": 1}}  # fmt: skip
    created = world.client.put("/api/v1/policies/extra", json=body, headers=world.as_("admin"))
    assert created.status_code == 201 and created.json()["approval"]["ttl_s"] == 300
    assert (
        world.client.put(
            "/api/v1/policies/extra", json=body, headers=world.as_("admin")
        ).status_code
        == 200
    )
    clash = world.client.put(
        "/api/v1/policies/restart-checkout", json=body, headers=world.as_("admin")
    )
    assert clash.status_code == 409
    bad = world.client.put(
        "/api/v1/policies/x", json={**body, "approval": {"required": 3, "approvers": ["a"]}},
        headers=world.as_("admin"),
    )  # fmt: skip
    assert bad.status_code == 422
    incident_id = world.open_incident("payments")
    dry = world.client.post(
        "/api/v1/policies/dry-run", json={"incident_id": incident_id}, headers=world.as_("viewer")
    )
    assert [(p["policy"], p["target"]) for p in dry.json()] == [("extra", "payments")]
    assert (
        world.client.delete("/api/v1/policies/extra", headers=world.as_("admin")).status_code == 204
    )
    assert (
        world.client.get("/api/v1/policies/extra", headers=world.as_("viewer")).status_code == 404
    )


def test_actions_page_with_a_cursor(world: World) -> None:
    for name in ("search", "checkout"):
        world.open_incident(name)
    first = world.client.get("/api/v1/actions", params={"limit": 1}, headers=world.as_("viewer"))
    page = first.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = world.client.get(
        "/api/v1/actions", params={"limit": 1, "cursor": page["next_cursor"]},
        headers=world.as_("viewer"),
    ).json()  # fmt: skip
    assert second["next_cursor"] is None
    assert {page["items"][0]["target"], second["items"][0]["target"]} == {"search", "checkout"}
    bad = world.client.get("/api/v1/actions", params={"cursor": "zz"}, headers=world.as_("viewer"))
    assert bad.status_code == 400


def test_a_reopened_incident_gets_a_new_proposal_a_silenced_one_none(world: World) -> None:
    incident_id = world.open_incident()
    first = _action(world, incident_id)
    world.client.post(f"/api/v1/actions/{first['id']}/reject", headers=world.as_("bob"))
    with transaction(world.factory) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        silenced = incident_event(incident, IncidentEventType.REOPENED, cause="s").model_copy(
            update={"silenced": True}
        )
        assert automation.on_incident_events(session=session, ctx=world.ctx, events=[silenced]) == 0
        reopened = incident_event(incident, IncidentEventType.REOPENED, cause="r")
        assert automation.on_incident_events(session=session, ctx=world.ctx, events=[reopened]) == 1
    page = world.client.get(
        "/api/v1/actions", params={"incident_id": incident_id}, headers=world.as_("viewer")
    ).json()
    assert [a["state"] for a in page["items"]] == ["proposed", "rejected"]


class Scale(Executor):
    """A scale action that can be undone from what it reported."""

    actions = ("test.scale",)

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        return [PlannedCall("PATCH", f"test://{command.target}", body=command.params)]

    async def execute(self, command: RemediationCommand) -> Outcome:
        return Outcome(True, "scaled", {"previous_replicas": 3})

    def rollback(self, command: RemediationCommand, output: dict[str, Any]) -> RollbackPlan:
        return RollbackPlan("test.scale", command.target, {"replicas": output["previous_replicas"]})


def test_a_failed_verification_rolls_back_where_the_executor_can(world: World) -> None:
    world.ctx.registry = ExecutorRegistry([Scale()])
    spec = {"action": "test.scale", "target": "{service}", "params": {"replicas": 6}, "risk": "low"}
    body = {
        "match": {"services": ["payments"]},
        "actions": [spec],
        "approval": {"auto_approve": True},
    }
    assert world.client.put(
        "/api/v1/policies/scale", json=body, headers=world.as_("admin")
    ).is_success
    incident_id = world.open_incident("payments")
    action = _action(world, incident_id)
    acted = utcnow()
    result = RemediationResult(
        command_id=action["id"], incident_id=incident_id, status="succeeded",
        started_at=acted, finished_at=acted, output={"previous_replicas": 3},
    )  # fmt: skip
    with transaction(world.factory) as session:
        automation.after_activity(session, world.ctx, [result])
        assert outcomes.verify(session=session, ctx=world.ctx, now=acted + timedelta(minutes=6))
    assert _action(world, incident_id)["state"] == "rolled_back"
    commands = world.outbox("remediation.commands")
    assert [(c["id"], c["params"]) for c in commands] == [
        (action["id"], {"replicas": 6}), (f"rollback-{action['id']}", {"replicas": 3}),
    ]  # fmt: skip
    assert "action.rolled_back" in world.timeline(incident_id)
    rates = world.client.get("/api/v1/remediation/success-rates", headers=world.as_("viewer"))
    assert rates.json()[0]["rolled_back"] == 1
