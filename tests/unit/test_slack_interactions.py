"""Slack interactivity end to end: an action awaiting approval is offered in Slack with
Approve/Reject buttons (remediate's planner and Slack bot notifier, against a local fake Slack);
the click Slack would send back, signed with the app's signing secret, is posted to the API,
which verifies it and approves the action: recorded, audited, on the timeline, and the command
sent to the workers. Bad, stale or foreign callbacks are refused.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.audit.models import AuditRecord
from services.api.auth.models import ApiKey
from services.api.auth.principal import CLI
from services.api.auth.service import revoke_key
from services.api.incidents.models import Incident, TimelineEntry
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.models import Base
from services.api.notifications import service as channels
from services.api.notifications.config import NotifyConfig
from services.api.notifications.schemas import ChannelCreate
from services.api.outbox import OutboxMessage
from services.api.remediation import service as remediation
from services.api.remediation.store import get_action
from services.core.bus import InMemoryBus
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Event, Notification, stable_id
from services.core.netpolicy import OutboundPolicy
from services.core.topics import (
    NOTIFICATIONS,
    REMEDIATION_COMMANDS,
    REMEDIATION_REQUESTS,
    Topic,
)
from services.remediate.notify.render import APPROVE_ACTION_ID, REJECT_ACTION_ID
from services.remediate.notify.retry import RetryPolicy
from services.remediate.notify.secretbox import SecretBox, generate_key
from services.remediate.notify.signing import sign_slack
from services.remediate.policies import ProposedAction
from services.remediate.service import build_notifications
from services.remediate.settings import RemediateSettings
from tests.factories import anomaly, make_key
from tests.unit.test_notify_support import Received, Receiver, Reply

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
KEY = generate_key()


# Slack users and the API key names they are mapped to (VIGIL_SLACK_USERS).
SLACK_USERS = {
    "U0CAROL": "carol",  # approver
    "U0DAN": "dan",  # approver
    "U0ALICE": "alice",  # approver, owns the policy
    "U0VIC": "vic",  # viewer
    "U0REX": "rex",  # approver, key revoked
    "U0GHOST": "ghost",  # no key at all
}
ROLES = {"carol": "approver", "dan": "approver", "alice": "approver", "vic": "viewer",
         "rex": "approver"}  # fmt: skip


@dataclass
class World:
    url: str
    factory: sessionmaker[Session]
    client: TestClient
    incident_id: str
    action_id: str
    responses: Receiver  # stands in for Slack's response_url endpoint
    keys: dict[str, str]


def _propose(
    factory: sessionmaker[Session],
    incident_id: str,
    target: str,
    *,
    required: int = 1,
    auto: bool = False,
) -> str:
    proposal = ProposedAction(
        policy="restart-on-latency",
        owner="alice",
        incident_id=incident_id,
        action="demo.restart",
        target=target,
        params={},
        risk="low" if auto else "medium",
        auto_approved=auto,
        required_approvals=required,
        approvers=(),
        ttl=timedelta(minutes=30),
        escalate_to="",
    )
    with transaction(factory) as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        (row,) = remediation.propose(
            session=session, incident=incident, proposals=[proposal], requested_by="policy"
        )
        return row.id


@pytest.fixture
def world(tmp_path: Any) -> Iterator[World]:
    import migrations

    url = f"sqlite:///{tmp_path}/vigil.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)  # tables of revisions still in progress, if any
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        record_anomaly(session=session, anomaly=anomaly(), policy=IncidentPolicy())
    with factory() as session:
        incident_id = session.scalars(select(Incident.id)).one()
    action_id = _propose(factory, incident_id, "deploy/checkout")
    keys = {name: make_key(factory, role, name) for name, role in ROLES.items()}
    with transaction(factory) as session:
        (rex,) = session.scalars(select(ApiKey).where(ApiKey.name == "rex")).all()
        revoke_key(session=session, key_id=rex.id, actor=CLI)
    with Receiver() as responses:
        config = NotifyConfig(
            box=SecretBox(KEY),
            policy=OutboundPolicy(allow_loopback=True),
            slack_signing_secret=SIGNING_SECRET,
            slack_users=dict(SLACK_USERS),
            slack_response_prefix=responses.url + "/actions/",
        )
        with TestClient(create_app(factory, notify=config)) as client:
            yield World(url, factory, client, incident_id, action_id, responses, keys)
    engine.dispose()


def _fake_slack(request: Received) -> Reply:
    return Reply.json(200, {"ok": True, "channel": "C0OPS", "ts": "1764220000.000100"})


def _add_slack_channel(world: World, receiver: Receiver) -> None:
    with transaction(world.factory) as session:
        channels.create(
            session=session,
            actor=CLI,
            body=ChannelCreate(
                name="slack-ops",
                kind="slack_bot",
                url=receiver.url,
                secret="xoxb-test-token",
                options={"channel": "C0OPS"},
                rules=[{}],
            ),
            box=SecretBox(KEY),
        )


def _outbox(world: World, topic: Topic) -> list[Event]:
    with world.factory() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic.name)).all()
    return [topic.schema.model_validate_json(r.payload) for r in rows]


def _run_remediate(world: World, topic: Topic, events: list[Event]) -> None:
    """Run remediate's planner + delivery on `events` as if they arrived on `topic`."""
    settings = RemediateSettings(
        database_url=world.url, secret_key=KEY, remediate_outbound_allow_loopback=True
    )

    async def run() -> None:
        bus = InMemoryBus()
        notify = build_notifications(settings, bus, retry=RetryPolicy(max_attempts=1))
        await bus.start()
        await bus.publish(topic, events)
        await bus.drain()
        await bus.stop()
        await notify.stop()

    asyncio.run(run())


def _offer_in_slack(world: World, receiver: Receiver) -> dict[str, Any]:
    """Run remediate's planner + delivery on the proposal's remediation.requests message."""
    _add_slack_channel(world, receiver)
    _run_remediate(world, REMEDIATION_REQUESTS, _outbox(world, REMEDIATION_REQUESTS))
    (posted,) = receiver.received
    assert posted.path == "/api/chat.postMessage"
    assert posted.headers["Authorization"] == "Bearer xoxb-test-token"
    return dict(posted.json())


def _click(
    message: dict[str, Any],
    action_id: str,
    user: str = "U0CAROL",
    response_url: str = "https://hooks.slack.com/actions/T0SHOP/1/xyz",
) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` clicks the button `action_id`."""
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    (button,) = [e for e in actions["elements"] if e["action_id"] == action_id]
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "pat", "team_id": "T0SHOP"},
        "api_app_id": "A0VIGIL",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1764220000.000100", "channel_id": "C0OPS"},
        "trigger_id": "123.456.abc",
        "team": {"id": "T0SHOP", "domain": "shop"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": actions["block_id"],
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": "1764220005.000200",
            }
        ],
    }


def _post(
    world: World,
    payload: dict[str, Any],
    *,
    secret: str = SIGNING_SECRET,
    at: float | None = None,
) -> Any:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = int(time.time() if at is None else at)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign_slack(secret, ts, body),
    }
    return world.client.post(
        "/api/v1/integrations/slack/interactions", content=body, headers=headers
    )


def test_an_approval_completed_by_a_slack_button_runs_the_action(world: World) -> None:
    with Receiver(_fake_slack) as slack:
        message = _offer_in_slack(world, slack)
    assert {b["type"] for b in message["blocks"]} >= {"actions"}
    reply_to = world.responses.url + "/actions/T0SHOP/1/xyz"
    response = _post(world, _click(message, APPROVE_ACTION_ID, response_url=reply_to))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "action_id": world.action_id,
        "decision": "approve",
        "actor": "carol",  # the API key name the Slack user is mapped to
        "status": "executing",  # approved, and the command sent
    }
    with world.factory() as session:
        action = get_action(session, world.action_id)
        assert action.state == "executing" and action.approved_by == ["carol"]
        audit = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "remediation.approve")
        ).one()
        assert audit.actor == "carol" and audit.target_id == world.action_id
        assert audit.detail["via"] == "slack" and audit.role == "approver"
        carol_key = session.scalars(select(ApiKey.id).where(ApiKey.name == "carol")).one()
        assert audit.key_id == carol_key
        kinds = {
            (e.kind, e.actor, e.detail.get("via"))
            for e in session.scalars(
                select(TimelineEntry).where(TimelineEntry.incident_id == world.incident_id)
            )
        }
        assert ("approval.approved", "carol", "slack") in kinds
        assert ("action.sent", "system", None) in kinds
        commands = session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == REMEDIATION_COMMANDS.name)
        ).all()
    (command,) = [json.loads(c.payload) for c in commands]
    assert command["request_id"] == world.action_id
    assert command["target"] == "deploy/checkout"
    assert command["approved_by"] == ["carol"]
    (echo,) = _wait_for_replies(world, 1)
    assert echo.path == "/actions/T0SHOP/1/xyz"
    assert echo.json() == {
        "response_type": "in_channel",
        "replace_original": False,
        "text": f"<@U0CAROL> approved action {world.action_id} (now executing)",
    }


def _wait_for_replies(world: World, count: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while len(world.responses.received) < count:
        assert time.monotonic() < deadline, "no answer on the response_url"
        time.sleep(0.02)
    return list(world.responses.received)


def test_a_reject_click_by_a_mapped_user_rejects_as_that_user(world: World) -> None:
    with Receiver(_fake_slack) as slack:
        message = _offer_in_slack(world, slack)
    response = _post(world, _click(message, REJECT_ACTION_ID, user="U0CAROL"))
    assert response.status_code == 200, response.text
    assert response.json()["actor"] == "carol" and response.json()["status"] == "rejected"
    with world.factory() as session:
        assert get_action(session, world.action_id).state == "rejected"
        assert not session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == REMEDIATION_COMMANDS.name)
        ).all()
    reply_to = world.responses.url + "/actions/T0SHOP/2/abc"
    again = _post(world, _click(message, APPROVE_ACTION_ID, user="U0DAN", response_url=reply_to))
    assert again.status_code == 409  # one rejection closes the request
    replies = [r.json() for r in _wait_for_replies(world, 1)]
    assert replies[0]["response_type"] == "ephemeral"  # only the clicker learns why
    assert "no decision possible" in replies[0]["text"]


def test_a_response_url_elsewhere_than_slack_is_never_called(world: World) -> None:
    payload = _click(_payload_message(world), APPROVE_ACTION_ID)
    payload["response_url"] = world.responses.url + "/elsewhere"
    assert _post(world, payload).status_code == 200
    time.sleep(0.3)
    assert world.responses.received == []


def _payload(world: World, action_id: str = APPROVE_ACTION_ID) -> dict[str, Any]:
    return _click(_payload_message(world, action_id), action_id)


def _payload_message(world: World, action_id: str = APPROVE_ACTION_ID) -> dict[str, Any]:
    block = {
        "type": "actions",
        "block_id": f"vigil_remediation:{world.action_id}",
        "elements": [
            {"type": "button", "action_id": action_id, "value": world.action_id, "text": {}}
        ],
    }
    return {"blocks": [block]}


def _state(world: World) -> str:
    with world.factory() as session:
        return str(get_action(session, world.action_id).state)


def test_a_bad_signature_is_refused_and_changes_nothing(world: World) -> None:
    response = _post(world, _payload(world), secret="not-the-signing-secret")
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]
    assert _state(world) == "proposed"


def test_a_replayed_old_callback_is_refused(world: World) -> None:
    response = _post(world, _payload(world), at=time.time() - 301)
    assert response.status_code == 401
    assert _state(world) == "proposed"


def test_an_unsigned_callback_is_refused(world: World) -> None:
    body = urlencode({"payload": json.dumps(_payload(world))})
    response = world.client.post(
        "/api/v1/integrations/slack/interactions",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401
    assert _state(world) == "proposed"


def test_a_signed_callback_that_is_not_our_button_is_a_400(world: World) -> None:
    payload = _payload(world)
    payload["actions"][0]["action_id"] = "someone_elses_button"
    assert _post(world, payload).status_code == 400
    assert _post(world, {"type": "view_submission"}).status_code == 400


def test_a_click_without_a_user_or_too_large_is_a_400(world: World) -> None:
    payload = _payload(world)
    del payload["user"]
    assert _post(world, payload).status_code == 400
    padded = {**_payload(world), "padding": "x" * 70_000}
    assert _post(world, padded).status_code == 400
    assert _state(world) == "proposed"


def test_a_click_on_an_unknown_action_is_a_404(world: World) -> None:
    payload = _payload(world)
    payload["actions"][0]["value"] = "no-such-action"
    assert _post(world, payload).status_code == 404


def test_without_a_signing_secret_the_endpoint_is_off(world: World) -> None:
    app = create_app(world.factory)  # no Slack configuration
    with TestClient(app) as client:
        response = client.post(
            "/api/v1/integrations/slack/interactions",
            content=urlencode({"payload": json.dumps(_payload(world))}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 404
    assert "VIGIL_SLACK_SIGNING_SECRET" in response.json()["detail"]


# -- who may decide from Slack ---------------------------------------------------------------


def _refusals(world: World) -> list[AuditRecord]:
    with world.factory() as session:
        return list(
            session.scalars(
                select(AuditRecord).where(AuditRecord.action.like("remediation.%.refused"))
            )
        )


def _commands(world: World) -> list[Event]:
    return _outbox(world, REMEDIATION_COMMANDS)


def test_an_unmapped_slack_user_is_refused_told_why_and_audited(world: World) -> None:
    reply_to = world.responses.url + "/actions/T0SHOP/3/def"
    payload = _click(
        _payload_message(world), APPROVE_ACTION_ID, user="U0STRANGER", response_url=reply_to
    )
    response = _post(world, payload)

    assert response.status_code == 403, response.text
    assert "VIGIL_SLACK_USERS" in response.json()["detail"]
    assert _state(world) == "proposed" and _commands(world) == []
    (reply,) = [r.json() for r in _wait_for_replies(world, 1)]
    assert reply["response_type"] == "ephemeral"  # only the clicker sees it
    assert "not linked to a Vigil identity" in reply["text"]
    (refusal,) = _refusals(world)
    assert (refusal.actor, refusal.action, refusal.target_id) == (
        "slack:U0STRANGER", "remediation.approve.refused", world.action_id,
    )  # fmt: skip
    assert refusal.detail["via"] == "slack" and refusal.detail["slack_user"] == "U0STRANGER"
    assert refusal.role == "viewer" and refusal.key_id is None


def test_an_unmapped_user_cannot_reject_either(world: World) -> None:
    payload = _click(_payload_message(world, REJECT_ACTION_ID), REJECT_ACTION_ID, user="U0X")
    assert _post(world, payload).status_code == 403
    assert _state(world) == "proposed"
    assert [r.action for r in _refusals(world)] == ["remediation.reject.refused"]


@pytest.mark.parametrize(
    ("user", "why"),
    [
        ("U0VIC", "holds the viewer role"),  # mapped, but a viewer
        ("U0REX", "no active Vigil API key"),  # mapped to a revoked key only
        ("U0GHOST", "no active Vigil API key"),  # mapped to a name with no key
    ],
)
def test_a_mapped_user_without_an_active_approver_key_is_refused(
    world: World, user: str, why: str
) -> None:
    response = _post(world, _click(_payload_message(world), APPROVE_ACTION_ID, user=user))
    assert response.status_code == 403, response.text
    assert why in response.json()["detail"]
    assert _state(world) == "proposed" and _commands(world) == []
    (refusal,) = _refusals(world)
    assert (
        refusal.actor == SLACK_USERS[user]
        and refusal.detail["reason"] == (response.json()["detail"])
    )


def test_one_person_counts_once_across_the_api_and_slack(world: World) -> None:
    action_id = _propose(world.factory, world.incident_id, "deploy/payments", required=2)
    message = {
        "blocks": [
            {
                "type": "actions",
                "block_id": f"vigil_remediation:{action_id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION_ID,
                        "value": action_id,
                        "text": {},
                    }
                ],
            }
        ]
    }
    by_api = world.client.post(
        f"/api/v1/actions/{action_id}/approve",
        headers={"Authorization": f"Bearer {world.keys['carol']}"},
    )
    assert by_api.status_code == 200 and by_api.json()["state"] == "proposed"
    # The same person again, now in Slack: still one approval of two.
    again = _post(world, _click(message, APPROVE_ACTION_ID, user="U0CAROL"))
    assert again.status_code == 409 and "already approved" in again.json()["detail"]
    # The policy's owner may not approve from Slack either.
    owner = _post(world, _click(message, APPROVE_ACTION_ID, user="U0ALICE"))
    assert owner.status_code == 403 and "owns its policy" in owner.json()["detail"]
    second = _post(world, _click(message, APPROVE_ACTION_ID, user="U0DAN"))
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "executing"
    with world.factory() as session:
        assert get_action(session, action_id).approved_by == ["carol", "dan"]
    (command,) = _commands(world)
    assert command.model_dump()["approved_by"] == ["carol", "dan"]


# -- auto-approved actions: announced, no buttons ---------------------------------------------


def test_an_auto_approved_action_is_announced_without_buttons(world: World) -> None:
    with Receiver(_fake_slack) as slack:
        _add_slack_channel(world, slack)
        auto_id = _propose(world.factory, world.incident_id, "deploy/search", auto=True)
        # Only the action still waiting for people is an approval request.
        assert [r.id for r in _outbox(world, REMEDIATION_REQUESTS)] == [world.action_id]
        notices = [n for n in _outbox(world, NOTIFICATIONS) if isinstance(n, Notification)]
        (notice,) = [n for n in notices if n.id == stable_id("notification", auto_id, "slack-ops")]
        assert "remediation" not in notice.payload  # nothing to approve
        _run_remediate(world, NOTIFICATIONS, [notice])
        (posted,) = slack.received
    message = posted.json()
    buttons = [
        e.get("action_id")
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert APPROVE_ACTION_ID not in buttons and REJECT_ACTION_ID not in buttons
    text = json.dumps(message)
    assert "auto-approved: demo.restart on deploy/search" in text
    assert "sent to the remediation workers" in text
    with world.factory() as session:
        assert get_action(session, auto_id).state == "executing"
