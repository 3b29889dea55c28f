"""Pure pieces: routing rules, flood protection, message parsing and rendering, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.core.errors import ConfigurationError
from services.core.events import IncidentEvent, Notification, Severity
from services.remediate.notify.base import ChannelConfig, DigestItem, NotificationMessage
from services.remediate.notify.flood import FloodGuard
from services.remediate.notify.opsgenie import request_for
from services.remediate.notify.pagerduty import event_action
from services.remediate.notify.planning import digest_notification, notifications_for
from services.remediate.notify.render import plain_text, slack_blocks
from services.remediate.notify.routing import RouteRule, route
from services.remediate.notify.secretbox import SecretBox, generate_key, redacted

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)

RULES = [
    RouteRule(
        channels=("pagerduty-payments",),
        min_severity=Severity.CRITICAL,
        services=("payments-*",),
        stop=True,
    ),
    RouteRule(channels=("slack-db",), labels={"team": "db*"}),
    RouteRule(channels=("slack-ops",), min_severity=Severity.ERROR),
    RouteRule(channels=("email-all", "slack-ops"), event_types=("opened", "resolved")),
]


def test_routing_matches_severity_service_and_labels_in_order() -> None:
    assert route(RULES, severity=Severity.CRITICAL, service="payments-api") == [
        "pagerduty-payments"
    ]
    assert route(RULES, severity=Severity.ERROR, service="payments-api") == [
        "slack-ops",
        "email-all",
    ]
    assert route(
        RULES, severity=Severity.WARNING, service="pg", labels={"team": "dba"}, event_type="updated"
    ) == ["slack-db"]
    assert route(RULES, severity=Severity.INFO, service="web", event_type="commented") == []


def _item(n: int) -> DigestItem:
    return DigestItem(incident_id=f"i{n}", title=f"t{n}", service="s", severity=Severity.ERROR)


def test_flood_guard_sends_the_first_openings_then_digests_the_rest() -> None:
    guard = FloodGuard(threshold=3, window_s=60)
    admitted = [
        guard.admit("slack", "opened", _item(n), T0 + timedelta(seconds=n)) for n in range(10)
    ]
    assert admitted == [True] * 3 + [False] * 7
    assert guard.admit("email", "opened", _item(99), T0) is True  # per channel
    assert guard.admit("slack", "resolved", _item(5), T0 + timedelta(seconds=20)) is False
    assert guard.admit("slack", "resolved", _item(1), T0 + timedelta(seconds=20)) is True
    assert guard.flush(T0 + timedelta(seconds=30)) == []
    (digest,) = guard.flush(T0 + timedelta(seconds=63))
    assert digest.channel == "slack"
    assert [i.incident_id for i in digest.items] == [f"i{n}" for n in range(3, 10)]
    assert guard.flush(T0 + timedelta(seconds=200)) == []
    assert guard.admit("slack", "opened", _item(50), T0 + timedelta(seconds=300)) is True


def test_notification_payload_becomes_a_message() -> None:
    notification = Notification(
        channel="slack-ops",
        incident_id="inc-1",
        event_type="resolved",
        payload={
            "title": "db down",
            "severity": "error",
            "service": "pg",
            "status": "resolved",
            "remediation": {"request_id": "r1", "action": "restart", "target": "pg-0"},
            "unknown_field": 1,
        },
    )
    message = NotificationMessage.from_notification(notification)
    assert message.resolved and message.severity is Severity.ERROR
    assert message.remediation is not None and message.remediation.request_id == "r1"
    assert "Proposed remediation: restart on pg-0" in plain_text(message)
    assert event_action(message) == "resolve"
    assert request_for(message)[0] == "/v2/alerts/vigil-inc-1/close?identifierType=alias"


def test_slack_text_is_escaped() -> None:
    message = NotificationMessage(incident_id="i", event_type="opened", title="t", service="<a&b>")
    fields = slack_blocks(message)[1]["fields"]
    assert {"type": "mrkdwn", "text": "*Service*\n&lt;a&amp;b&gt;"} in fields


def test_secrets_round_trip_and_never_show() -> None:
    box = SecretBox(generate_key())
    token = box.encrypt("xoxb-secret")
    assert "xoxb" not in token and box.decrypt(token) == "xoxb-secret"
    assert redacted("xoxb-secret") == "********" and redacted("") == ""
    assert "xoxb" not in repr(ChannelConfig("c", "slack_bot", secret="xoxb-secret"))


def test_wrong_key_fails_clearly_and_old_keys_still_decrypt_after_rotation() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox(old).encrypt("pd-key")
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        SecretBox(new).decrypt(token)
    assert SecretBox([new, old]).decrypt(token) == "pd-key"
    with pytest.raises(ConfigurationError):
        SecretBox("not a key")
    with pytest.raises(ConfigurationError):
        SecretBox("")


def _incident(n: int, type_: str = "opened", **changes: object) -> IncidentEvent:
    data: dict[str, object] = {
        "id": f"ev-{n}-{type_}",
        "type": type_,
        "incident_id": f"inc-{n}",
        "title": f"incident {n}",
        "service": "payments-api",
        "severity": "error",
        "status": "resolved" if type_ == "resolved" else "open",
        "opened_at": T0,
    }
    data.update(changes)
    return IncidentEvent.model_validate(data)


def test_incident_changes_become_routed_notifications_with_replay_stable_ids() -> None:
    event = _incident(1)
    first = notifications_for(event, RULES, now=T0, link="https://v/inc-1")
    again = notifications_for(event, RULES, now=T0, link="https://v/inc-1")
    assert [n.channel for n in first] == ["slack-ops", "email-all"]
    assert [n.id for n in first] == [n.id for n in again]
    message = NotificationMessage.from_notification(first[0])
    assert (message.title, message.link, message.severity) == (
        "incident 1",
        "https://v/inc-1",
        Severity.ERROR,
    )
    assert notifications_for(_incident(2, silenced=True), RULES, now=T0) == []


def test_a_burst_of_openings_becomes_one_digest_notification() -> None:
    guard = FloodGuard(threshold=2, window_s=60)
    sent = [
        n
        for i in range(6)
        for n in notifications_for(_incident(i), RULES[2:3], now=T0, flood=guard)
    ]
    assert [n.incident_id for n in sent] == ["inc-0", "inc-1"]
    (digest,) = guard.flush(T0 + timedelta(seconds=61))
    notification = digest_notification(digest)
    message = NotificationMessage.from_notification(notification)
    assert [i.incident_id for i in message.digest] == ["inc-2", "inc-3", "inc-4", "inc-5"]
    assert message.headline.startswith("[4 incidents opened]")


def test_an_escalation_page_from_the_remediation_worker_renders_readably() -> None:
    page = Notification(
        channel="oncall",
        incident_id="inc-3",
        event_type="remediation.interrupted",
        payload={
            "command_id": "c1",
            "action": "restart",
            "target": "deploy/api",
            "detail": "worker died",
        },
    )
    message = NotificationMessage.from_notification(page)
    assert message.title == "remediation.interrupted: restart on deploy/api"
    assert message.explanation == "worker died"
    assert event_action(message) == "trigger"
