"""A Slack button click on our message, as the api will receive it: verified, then parsed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from services.core.errors import InvalidMessage, Unauthorized
from services.remediate.notify.base import NotificationMessage, RemediationAsk
from services.remediate.notify.render import slack_blocks
from services.remediate.notify.signing import sign_slack
from services.remediate.notify.slack_interaction import parse_decision, verified_decision

SECRET = "slack-signing-secret"
NOW = 1_764_000_000


def _click(label: str) -> bytes:
    """The form body Slack posts when someone clicks one of our rendered buttons."""
    message = NotificationMessage(
        incident_id="inc-1",
        event_type="opened",
        title="t",
        remediation=RemediationAsk(request_id="req-77", action="restart", target="deploy/api"),
    )
    (actions,) = [b for b in slack_blocks(message) if "block_id" in b]
    (button,) = [e for e in actions["elements"] if e["text"]["text"] == label]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "alice", "team_id": "T1"},
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "1700000000.000100"},
        "response_url": "https://hooks.slack.com/actions/T1/1/x",
        "actions": [{**button, "block_id": actions["block_id"], "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _headers(body: bytes, ts: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign_slack(secret, ts, body),
    }


def test_approve_click_yields_the_request_id_and_the_user() -> None:
    body = _click("Approve")
    decision = verified_decision(SECRET, _headers(body), body, now=NOW + 3)
    assert (decision.request_id, decision.decision) == ("req-77", "approve")
    assert (decision.user_id, decision.user_name, decision.channel_id) == ("U1", "alice", "C1")
    assert decision.message_ts == "1700000000.000100"
    assert parse_decision(_click("Reject")).decision == "reject"


def test_forged_or_replayed_clicks_are_unauthorized() -> None:
    body = _click("Approve")
    with pytest.raises(Unauthorized):
        verified_decision(SECRET, _headers(body, secret="guess"), body, now=NOW)
    with pytest.raises(Unauthorized):
        verified_decision(SECRET, _headers(body, ts=NOW - 600), body, now=NOW)
    with pytest.raises(Unauthorized):
        verified_decision(SECRET, _headers(body), _click("Reject"), now=NOW)


def test_other_payloads_are_invalid() -> None:
    for body in (
        b"",
        b"payload=not-json",
        urlencode({"payload": '{"type":"view_submission"}'}).encode(),
    ):
        with pytest.raises(InvalidMessage):
            verified_decision(SECRET, _headers(body), body, now=NOW)
