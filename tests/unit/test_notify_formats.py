"""Each integration against a local HTTP server: exact method, path, headers and JSON body."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from services.core.events import Severity
from services.core.netpolicy import OutboundPolicy
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
    RemediationAsk,
)
from services.remediate.notify.http import Outbound
from services.remediate.notify.registry import build_notifier
from services.remediate.notify.signing import verify_webhook
from tests.unit.test_notify_support import LOOPBACK_POLICY, Receiver, Reply, outbound_client

NOW = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
OPENED = datetime(2026, 11, 27, 2, 55, 0, tzinfo=UTC)


def _message(event_type: str = "opened", **changes: object) -> NotificationMessage:
    data: dict[str, object] = {
        "incident_id": "inc-42",
        "event_type": event_type,
        "title": "checkout latency above forecast",
        "service": "checkout",
        "severity": Severity.CRITICAL,
        "status": "resolved" if event_type == "resolved" else "open",
        "opened_at": OPENED,
        "link": "https://vigil.example/incidents/inc-42",
        "explanation": "p99 latency 2.4s, expected 0.3s (band 0.2-0.5)",
    }
    data.update(changes)
    return NotificationMessage.model_validate(data)


def _ctx(thread_ref: str = "") -> DeliveryContext:
    return DeliveryContext(notification_id="n-1", channel="ch", now=NOW, thread_ref=thread_ref)


def _deliver(
    channel: ChannelConfig,
    message: NotificationMessage,
    ctx: DeliveryContext | None = None,
    policy: OutboundPolicy = LOOPBACK_POLICY,
) -> DeliveryOutcome:
    async def go() -> DeliveryOutcome:
        outbound = Outbound(policy, client=outbound_client(), clock=lambda: NOW)
        try:
            notifier: Notifier = build_notifier(channel, outbound)
            return await notifier.notify(message, ctx or _ctx())
        finally:
            await outbound.aclose()

    return asyncio.run(go())


def test_slack_webhook_posts_block_kit_with_approve_and_reject_buttons() -> None:
    ask = RemediationAsk(request_id="req-7", action="restart", target="deploy/checkout")
    with Receiver() as receiver:
        channel = ChannelConfig("s", "slack_webhook", secret=receiver.url + "/services/T/B/X")
        outcome = _deliver(channel, _message(remediation=ask))
    assert outcome.ok
    (request,) = receiver.received
    assert (request.method, request.path) == ("POST", "/services/T/B/X")
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert body["text"] == "[OPENED] [critical] checkout: checkout latency above forecast"
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": body["text"]},
    }
    assert {"type": "mrkdwn", "text": "*Severity*\ncritical"} in blocks[1]["fields"]
    (actions,) = [b for b in blocks if b.get("block_id", "").startswith("vigil_remediation:")]
    assert actions["block_id"] == "vigil_remediation:req-7"
    assert [
        (e["text"]["text"], e["action_id"], e["value"], e["style"]) for e in actions["elements"]
    ] == [
        ("Approve", "vigil_remediation_approve", "req-7", "primary"),
        ("Reject", "vigil_remediation_reject", "req-7", "danger"),
    ]
    assert blocks[-1]["elements"][0]["url"] == "https://vigil.example/incidents/inc-42"


def test_slack_bot_posts_with_bearer_token_and_threads_updates() -> None:
    def slack(request: object) -> Reply:
        return Reply.json(200, {"ok": True, "channel": "C1", "ts": "1700000000.000100"})

    with Receiver(slack) as receiver:
        channel = ChannelConfig(
            "s", "slack_bot", url=receiver.url, secret="xoxb-1", options={"channel": "C1"}
        )
        first = _deliver(channel, _message())
        resolved = _deliver(channel, _message("resolved"), _ctx(thread_ref=first.provider_ref))
    assert first == DeliveryOutcome.delivered("1700000000.000100")
    assert resolved.ok
    opened, reply = receiver.received
    assert (opened.method, opened.path) == ("POST", "/api/chat.postMessage")
    assert opened.headers["Authorization"] == "Bearer xoxb-1"
    assert opened.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "thread_ts" not in opened.json()
    assert opened.json()["channel"] == "C1"
    assert reply.json()["thread_ts"] == "1700000000.000100"
    assert reply.json()["reply_broadcast"] is True


def test_slack_errors_inside_200_are_permanent_or_retryable_by_kind() -> None:
    errors = iter(["channel_not_found", "ratelimited"])
    with Receiver(lambda _r: Reply.json(200, {"ok": False, "error": next(errors)})) as receiver:
        channel = ChannelConfig(
            "s", "slack_bot", url=receiver.url, secret="xoxb-1", options={"channel": "C1"}
        )
        permanent = _deliver(channel, _message())
        transient = _deliver(channel, _message())
    assert (permanent.ok, permanent.retryable) == (False, False)
    assert "channel_not_found" in permanent.error
    assert (transient.ok, transient.retryable) == (False, True)


def test_teams_posts_an_adaptive_card_in_the_workflows_envelope() -> None:
    with Receiver(lambda _r: Reply(202, b"")) as receiver:
        channel = ChannelConfig("t", "teams", secret=receiver.url + "/workflows/abc?sig=s")
        outcome = _deliver(channel, _message())
    assert outcome.ok
    (request,) = receiver.received
    assert (request.method, request.path) == ("POST", "/workflows/abc?sig=s")
    body = request.json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"].startswith("[OPENED] [critical] checkout")
    assert card["body"][1]["facts"][0] == {"title": "Severity", "value": "critical"}
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open in Vigil",
            "url": "https://vigil.example/incidents/inc-42",
        }
    ]


def test_pagerduty_triggers_acknowledges_and_resolves_on_one_dedup_key() -> None:
    reply = Reply.json(
        202, {"status": "success", "message": "Event processed", "dedup_key": "vigil-inc-42"}
    )
    with Receiver(lambda _r: reply) as receiver:
        channel = ChannelConfig("pd", "pagerduty", url=receiver.url, secret="R0UTING")
        outcomes = [
            _deliver(channel, _message(event)) for event in ("opened", "acknowledged", "resolved")
        ]
    assert [o.provider_ref for o in outcomes] == ["vigil-inc-42"] * 3
    trigger, ack, resolve = receiver.received
    assert {(r.method, r.path) for r in receiver.received} == {("POST", "/v2/enqueue")}
    assert trigger.headers["Content-Type"] == "application/json"
    body = trigger.json()
    assert body["payload"]["custom_details"]["details"].startswith("[OPENED]")
    body["payload"]["custom_details"].pop("details")
    assert body == {
        "routing_key": "R0UTING",
        "event_action": "trigger",
        "dedup_key": "vigil-inc-42",
        "payload": {
            "summary": "[OPENED] [critical] checkout: checkout latency above forecast",
            "source": "checkout",
            "severity": "critical",
            "component": "checkout",
            "group": "default",
            "class": "opened",
            "custom_details": {"incident_id": "inc-42", "status": "open"},
            "timestamp": "2026-11-27T02:55:00+00:00",
        },
        "client": "Vigil",
        "client_url": "https://vigil.example/incidents/inc-42",
        "links": [{"href": "https://vigil.example/incidents/inc-42", "text": "Open in Vigil"}],
    }
    assert ack.json() == {
        "routing_key": "R0UTING",
        "event_action": "acknowledge",
        "dedup_key": "vigil-inc-42",
    }
    assert resolve.json() == {
        "routing_key": "R0UTING",
        "event_action": "resolve",
        "dedup_key": "vigil-inc-42",
    }


def test_opsgenie_creates_with_alias_and_closes_by_alias() -> None:
    reply = Reply.json(
        202, {"result": "Request will be processed", "took": 0.1, "requestId": "r-1"}
    )
    with Receiver(lambda _r: reply) as receiver:
        channel = ChannelConfig("og", "opsgenie", url=receiver.url, secret="key-1")
        opened = _deliver(channel, _message(labels={"team": "shop"}))
        _deliver(channel, _message("acknowledged"))
        _deliver(channel, _message("resolved", actor="alice"))
    assert opened.provider_ref == "vigil-inc-42"
    create, ack, close = receiver.received
    assert (create.method, create.path) == ("POST", "/v2/alerts")
    assert create.headers["Authorization"] == "GenieKey key-1"
    body = create.json()
    assert body["description"].startswith("[OPENED]")
    del body["description"]
    assert body == {
        "message": "[OPENED] [critical] checkout: checkout latency above forecast",
        "alias": "vigil-inc-42",
        "priority": "P1",
        "source": "Vigil",
        "entity": "checkout",
        "tags": ["vigil", "severity:critical"],
        "details": {
            "incident_id": "inc-42",
            "status": "open",
            "link": "https://vigil.example/incidents/inc-42",
            "team": "shop",
        },
    }
    assert ack.path == "/v2/alerts/vigil-inc-42/acknowledge?identifierType=alias"
    assert close.path == "/v2/alerts/vigil-inc-42/close?identifierType=alias"
    assert close.json() == {
        "source": "Vigil",
        "user": "alice",
        "note": "resolved: checkout latency above forecast (alice)",
    }


def test_our_webhook_is_signed_over_timestamp_and_body() -> None:
    with Receiver() as receiver:
        channel = ChannelConfig("w", "webhook", url=receiver.url + "/hook", secret="s3cret")
        outcome = _deliver(channel, _message())
    assert outcome == DeliveryOutcome.delivered("n-1")
    (request,) = receiver.received
    ts = int(NOW.timestamp())
    assert request.headers["X-Vigil-Timestamp"] == str(ts)
    assert request.headers["X-Vigil-Delivery"] == "n-1"
    assert request.headers["X-Vigil-Event"] == "incident.opened"
    assert request.headers["X-Vigil-Signature"].startswith("sha256=")
    assert verify_webhook("s3cret", request.headers, request.body, now=ts + 5)
    assert not verify_webhook("other", request.headers, request.body, now=ts + 5)
    body = json.loads(request.body)
    assert {k: body[k] for k in ("schema_version", "id", "type", "channel", "timestamp")} == {
        "schema_version": 1,
        "id": "n-1",
        "type": "incident.opened",
        "channel": "ch",
        "timestamp": ts,
    }
    assert body["incident"]["incident_id"] == "inc-42"
    assert body["incident"]["severity"] == "critical"
    assert body["incident"]["opened_at"] == "2026-11-27T02:55:00Z"


def test_status_classes_decide_retry_and_retry_after_is_read() -> None:
    replies = iter(
        [
            Reply(503, b"down"),
            Reply(429, b"slow", {"Retry-After": "7"}),
            Reply(400, b"bad"),
            Reply(404),
        ]
    )
    with Receiver(lambda _r: next(replies)) as receiver:
        channel = ChannelConfig("w", "webhook", url=receiver.url, secret="s")
        outcomes = [_deliver(channel, _message()) for _ in range(4)]
    assert [(o.ok, o.retryable) for o in outcomes] == [
        (False, True),
        (False, True),
        (False, False),
        (False, False),
    ]
    assert outcomes[1].retry_after == 7
    assert outcomes[0].error == "HTTP 503: down"


def test_outbound_policy_blocks_loopback_unless_allowed() -> None:
    with Receiver() as receiver:
        channel = ChannelConfig("w", "webhook", url=receiver.url, secret="s")
        outcome = _deliver(channel, _message(), policy=OutboundPolicy())
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "blocked by outbound policy" in outcome.error
    assert receiver.received == []


def test_metadata_address_is_never_contacted() -> None:
    channel = ChannelConfig("w", "webhook", url="http://169.254.169.254/latest", secret="s")
    outcome = _deliver(channel, _message(), policy=OutboundPolicy(allow_private=True))
    assert not outcome.retryable
    assert "metadata" in outcome.error


def test_errors_never_carry_the_secret_part_of_a_webhook_url() -> None:
    with Receiver(lambda r: Reply(404, f"no such hook {r.path}".encode())) as receiver:
        channel = ChannelConfig("s", "slack_webhook", secret=receiver.url + "/services/T/B/SECRET")
        outcome = _deliver(channel, _message())
    assert not outcome.retryable
    assert "SECRET" not in outcome.error and "/<redacted>" in outcome.error
