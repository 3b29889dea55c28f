"""Slack interactivity callbacks: a verified Approve/Reject click on a remediation message.

The api's interactivity endpoint passes the raw request here: the signature and timestamp are
checked first (`verify_slack_signature`), then the `payload` form field is read for our
buttons (see render.py). Raises `Unauthorized` for a bad or stale signature and
`InvalidMessage` for a body that is not one of our button clicks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from services.core.errors import InvalidMessage, Unauthorized
from services.remediate.notify.render import APPROVE_ACTION_ID, REJECT_ACTION_ID
from services.remediate.notify.signing import DEFAULT_WINDOW_S, verify_slack_signature

DECISIONS: dict[str, Literal["approve", "reject"]] = {
    APPROVE_ACTION_ID: "approve",
    REJECT_ACTION_ID: "reject",
}


@dataclass(frozen=True)
class SlackDecision:
    """Who clicked which button for which remediation request."""

    request_id: str
    decision: Literal["approve", "reject"]
    user_id: str
    user_name: str
    team_id: str
    channel_id: str
    message_ts: str
    response_url: str


def parse_decision(body: bytes) -> SlackDecision:
    """Our button click from a `block_actions` payload (form-encoded `payload=<json>`)."""
    try:
        payload: Any = json.loads(parse_qs(body.decode())["payload"][0])
    except (KeyError, IndexError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidMessage("not a Slack interactivity payload") from exc
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise InvalidMessage("not a block_actions payload")
    for action in payload.get("actions") or []:
        decision = DECISIONS.get(str(action.get("action_id", "")))
        if decision is None or not action.get("value"):
            continue
        user = payload.get("user") or {}
        return SlackDecision(
            request_id=str(action["value"]),
            decision=decision,
            user_id=str(user.get("id", "")),
            user_name=str(user.get("username") or user.get("name") or ""),
            team_id=str((payload.get("team") or {}).get("id", "")),
            channel_id=str((payload.get("channel") or {}).get("id", "")),
            message_ts=str((payload.get("container") or {}).get("message_ts", "")),
            response_url=str(payload.get("response_url", "")),
        )
    raise InvalidMessage("no Vigil remediation button in the payload")


def verified_decision(
    signing_secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    window: float = DEFAULT_WINDOW_S,
) -> SlackDecision:
    """Verify the callback came from Slack recently, then read the decision."""
    if not verify_slack_signature(signing_secret, headers, body, now, window):
        raise Unauthorized("Slack signature missing, invalid or outside the time window")
    return parse_decision(body)
