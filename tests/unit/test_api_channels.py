"""Channel configuration through the API: CRUD (admin writes, viewers read), secrets stored
encrypted and never returned, validation naming what is wrong, the test-message endpoint
against local receivers, and delivery status from `notifications.results`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.audit.models import AuditRecord
from services.api.consumer import SignalConsumer
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.notifications.config import NotifyConfig
from services.api.notifications.models import NotificationChannel
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import NotificationResult
from services.core.netpolicy import OutboundPolicy
from services.remediate.notify.secretbox import SecretBox, generate_key
from services.remediate.notify.signing import verify_webhook
from tests.factories import anomaly, make_key
from tests.unit.test_notify_support import Receiver, Reply

KEY = generate_key()
SECRETS = ("hmac-very-secret", "https://hooks.slack.com/services/T0/B0/XXXXtoken", "xoxb-123")


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        record_anomaly(session=session, anomaly=anomaly(), policy=IncidentPolicy())
    yield factory
    engine.dispose()


@pytest.fixture
def app_config() -> NotifyConfig:
    return NotifyConfig(box=SecretBox(KEY), policy=OutboundPolicy(allow_loopback=True))


@pytest.fixture
def admin(factory: sessionmaker[Session], app_config: NotifyConfig) -> Iterator[TestClient]:
    key = make_key(factory, "admin", "root")
    app = create_app(factory, notify=app_config)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


@pytest.fixture
def viewer(factory: sessionmaker[Session], admin: TestClient) -> TestClient:
    key = make_key(factory, "viewer", "looker")
    return TestClient(admin.app, headers={"Authorization": f"Bearer {key}"})


def _webhook(
    url: str = "https://hooks.example.com/vigil?token=abc", **extra: Any
) -> dict[str, Any]:
    return {"name": "ops-hook", "kind": "webhook", "url": url, "secret": SECRETS[0], **extra}


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "token=abc" not in text


def test_created_channel_is_stored_encrypted_and_shown_redacted(
    admin: TestClient, viewer: TestClient, factory: sessionmaker[Session]
) -> None:
    rules = [{"min_severity": "error", "services": ["checkout"], "labels": {"team": "shop"}}]
    created = admin.post("/api/v1/channels", json=_webhook(rules=rules))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"] == "********"
    assert body["url"] == "https://hooks.example.com"
    assert body["rules"] == [{**rules[0], "event_types": []}]
    assert body["enabled"] is True and body["created_by"] == "root"
    listed = viewer.get("/api/v1/channels")
    assert [c["name"] for c in listed.json()["items"]] == ["ops-hook"]
    one = viewer.get(f"/api/v1/channels/{body['id']}")
    for text in (created.text, listed.text, one.text):
        _no_secret_in(text)
    with factory() as session:
        row = session.scalars(select(NotificationChannel)).one()
        assert row.secret_token and SECRETS[0] not in row.secret_token
        assert SecretBox(KEY).decrypt(row.secret_token) == SECRETS[0]
        audit = session.scalars(select(AuditRecord).where(AuditRecord.action == "channel.create"))
        record = audit.one()
        assert record.target_id == body["id"] and record.actor == "root"
        _no_secret_in(json.dumps(record.detail))


def test_every_kind_accepts_what_it_needs(admin: TestClient) -> None:
    bodies: list[dict[str, Any]] = [
        {"kind": "slack_webhook", "secret": SECRETS[1]},
        {"kind": "slack_bot", "secret": SECRETS[2], "options": {"channel": "C123"}},
        {"kind": "teams", "secret": "https://prod.logic.azure.com/workflows/1?sig=s"},
        {"kind": "pagerduty", "secret": "R0UTINGKEY"},
        {"kind": "opsgenie", "secret": "genie-key"},
        {"kind": "webhook", "url": "https://h.example/x", "secret": "s"},
        {"kind": "email", "options": {"host": "smtp.example", "from": "v@x", "to": ["a@x"]}},
    ]
    for i, body in enumerate(bodies):
        response = admin.post("/api/v1/channels", json={"name": f"c{i}", **body})
        assert response.status_code == 201, (body, response.text)
        _no_secret_in(response.text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "webhook", "url": "https://h.example/x"}, "needs `secret`"),
        ({"kind": "webhook", "secret": "s"}, "needs `url`"),
        ({"kind": "slack_webhook", "secret": "not a url"}, "absolute http"),
        ({"kind": "slack_bot", "secret": "xoxb-1"}, "needs options channel"),
        ({"kind": "email", "options": {"host": "h", "from": "f", "to": "a@x"}}, "must be a list"),
        ({"kind": "webhook", "url": "ftp://h/x", "secret": "s"}, "absolute http"),
        ({"kind": "fax", "secret": "s"}, "kind"),
        (
            {"kind": "pagerduty", "secret": "k", "rules": [{"min_severity": "loud"}]},
            "min_severity",
        ),
        ({"kind": "pagerduty", "secret": "k", "rules": [{"colour": "red"}]}, "colour"),
    ],
)
def test_incomplete_or_invalid_channels_are_refused_with_the_reason(
    admin: TestClient, body: dict[str, Any], message: str
) -> None:
    response = admin.post("/api/v1/channels", json={"name": "bad", **body})
    assert response.status_code == 422
    assert message in response.text
    _no_secret_in(response.text)


def test_names_are_unique(admin: TestClient) -> None:
    assert admin.post("/api/v1/channels", json=_webhook()).status_code == 201
    again = admin.post("/api/v1/channels", json=_webhook())
    assert again.status_code == 409 and "ops-hook" in again.json()["detail"]


def test_update_changes_what_is_given_and_can_replace_the_secret(
    admin: TestClient, factory: sessionmaker[Session]
) -> None:
    channel = admin.post("/api/v1/channels", json=_webhook()).json()
    url = f"/api/v1/channels/{channel['id']}"
    patched = admin.patch(url, json={"secret": "rotated", "enabled": False, "rules": [{}]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False and patched.json()["rules"][0]["services"] == []
    assert patched.json()["secret"] == "********"
    with factory() as session:
        row = session.get(NotificationChannel, channel["id"])
        assert row is not None and SecretBox(KEY).decrypt(row.secret_token) == "rotated"
        assert row.url == "https://hooks.example.com/vigil?token=abc"  # untouched
        updates = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "channel.update")
        ).one()
        assert updates.detail["changed"] == ["enabled", "rules", "secret"]
    removed = admin.patch(url, json={"secret": ""})
    assert removed.status_code == 422 and "needs `secret`" in removed.text
    assert admin.patch(url, json={"url": "nope"}).status_code == 422
    assert admin.patch("/api/v1/channels/nope", json={"enabled": True}).status_code == 404


def test_delete_removes_the_channel(admin: TestClient) -> None:
    channel = admin.post("/api/v1/channels", json=_webhook()).json()
    assert admin.delete(f"/api/v1/channels/{channel['id']}").status_code == 204
    assert admin.get(f"/api/v1/channels/{channel['id']}").status_code == 404
    assert admin.get("/api/v1/channels").json()["items"] == []


def test_viewers_may_read_but_not_write(admin: TestClient, viewer: TestClient) -> None:
    channel = admin.post("/api/v1/channels", json=_webhook()).json()
    assert viewer.post("/api/v1/channels", json=_webhook(name="x")).status_code == 403
    assert viewer.patch(f"/api/v1/channels/{channel['id']}", json={}).status_code == 403
    assert viewer.post(f"/api/v1/channels/{channel['id']}/test").status_code == 403
    assert viewer.delete(f"/api/v1/channels/{channel['id']}").status_code == 403


def test_test_message_is_sent_signed_and_its_result_reported(
    admin: TestClient, factory: sessionmaker[Session]
) -> None:
    with Receiver() as receiver:
        channel = admin.post("/api/v1/channels", json=_webhook(receiver.url + "/hook")).json()
        response = admin.post(f"/api/v1/channels/{channel['id']}/test")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["delivered"] is True and result["channel"] == "ops-hook"
    (request,) = receiver.received
    assert request.path == "/hook"
    assert verify_webhook(SECRETS[0], request.headers, request.body, now=time.time())
    body = request.json()
    assert body["type"] == "incident.opened"
    assert body["incident"]["title"] == "Test message from Vigil to channel ops-hook"
    assert result["provider_ref"] == request.headers["X-Vigil-Delivery"]
    with factory() as session:
        tests = session.scalars(select(AuditRecord).where(AuditRecord.action == "channel.test"))
        assert tests.one().target_id == channel["id"]


def test_test_message_reports_a_refusal_without_leaking_the_url(admin: TestClient) -> None:
    with Receiver(lambda _r: Reply(503, b"maintenance")) as receiver:
        url = receiver.url + "/hook?token=abc"
        channel = admin.post("/api/v1/channels", json=_webhook(url)).json()
        result = admin.post(f"/api/v1/channels/{channel['id']}/test").json()
    assert len(receiver.received) == 1  # one attempt, no retries
    assert result["delivered"] is False and result["retryable"] is True
    assert "503" in result["error"]
    _no_secret_in(json.dumps(result))


def test_test_message_to_a_blocked_address_fails_at_once(
    factory: sessionmaker[Session],
) -> None:
    key = make_key(factory, "admin", "strict")
    app = create_app(factory, notify=NotifyConfig(box=SecretBox(KEY)))  # loopback not allowed
    with Receiver() as receiver, TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        channel = c.post("/api/v1/channels", json=_webhook(receiver.url)).json()
        result = c.post(f"/api/v1/channels/{channel['id']}/test").json()
    assert receiver.received == []
    assert result["delivered"] is False and result["retryable"] is False
    assert "blocked" in result["error"] or "not allowed" in result["error"]


def test_a_secret_the_key_cannot_read_answers_503_not_500(
    admin: TestClient, factory: sessionmaker[Session]
) -> None:
    channel = admin.post("/api/v1/channels", json=_webhook()).json()
    key = make_key(factory, "admin", "rotated")
    other = create_app(factory, notify=NotifyConfig(box=SecretBox(generate_key())))
    with TestClient(other, headers={"Authorization": f"Bearer {key}"}) as c:
        response = c.post(f"/api/v1/channels/{channel['id']}/test")
    assert response.status_code == 503
    assert "cannot be decrypted" in response.json()["detail"]


def test_delivery_results_become_status_and_timeline_entries(
    admin: TestClient, viewer: TestClient, factory: sessionmaker[Session]
) -> None:
    incident_id = admin.get("/api/v1/incidents").json()["items"][0]["id"]

    def result(
        n: str, status: Literal["delivered", "failed"], attempts: int, detail: str = ""
    ) -> NotificationResult:
        return NotificationResult(
            id=f"r-{n}-{status}",
            notification_id=f"n-{n}",
            channel="slack-ops",
            incident_id=incident_id,
            status=status,
            attempts=attempts,
            detail=detail,
            provider_ref="1700000000.0001" if status == "delivered" else "",
        )

    consumer = SignalConsumer(factory, IncidentPolicy())
    events = [result("1", "delivered", 1), result("2", "failed", 8, "HTTP 500: down")]
    unknown = NotificationResult(
        id="r-x", notification_id="n-x", channel="c", incident_id="nope", status="delivered"
    )
    asyncio.run(consumer.handle_activity([*events, unknown]))
    asyncio.run(consumer.handle_activity(events))  # redelivered: nothing new

    deliveries = viewer.get(f"/api/v1/incidents/{incident_id}/deliveries").json()["items"]
    assert [(d["notification_id"], d["status"], d["attempts"]) for d in deliveries] == [
        ("n-1", "delivered", 1),
        ("n-2", "failed", 8),
    ]
    assert deliveries[0]["provider_ref"] == "1700000000.0001"
    assert deliveries[1]["detail"] == "HTTP 500: down"
    timeline = viewer.get(f"/api/v1/incidents/{incident_id}/timeline").json()
    entries = timeline["items"] if isinstance(timeline, dict) else timeline
    notes = [e for e in entries if e["kind"].startswith("notification.")]
    assert [(e["kind"], e["detail"]["summary"]) for e in notes] == [
        ("notification.sent", "notification to slack-ops: delivered after 1 attempt"),
        (
            "notification.failed",
            "notification to slack-ops: failed, dead-lettered after 8 attempts",
        ),
    ]
    assert viewer.get("/api/v1/incidents/nope/deliveries").status_code == 404
