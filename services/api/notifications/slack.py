"""Slack interactivity: an Approve/Reject click on a remediation message, verified and decided.

Slack POSTs `application/x-www-form-urlencoded` with one field, `payload` (JSON), signed with
the app's signing secret (`X-Slack-Signature`, `X-Slack-Request-Timestamp`). No API key: the
signature proves the click came from our Slack app. Who may decide is Vigil's business: the
user must be mapped by `VIGIL_SLACK_USERS` to an API key name whose active key holds the
approver role (`slack_identity.py`); anyone else is refused (403, audited, told why in an
ephemeral message). The decision is made as that name, through `via="slack"`, so the approval
rules, audit log and incident timeline treat it like one made through the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request

from services.api.deps import get_transaction
from services.api.notifications.config import NotifyConfig
from services.api.notifications.schemas import SlackAnswer
from services.api.notifications.slack_identity import Refusal, record_refusal, slack_principal
from services.api.openapi import ErrorBody
from services.api.remediation import service as remediation
from services.api.remediation.errors import NotAllowed, RemediationError
from services.core.errors import InvalidMessage, NotFound
from services.remediate.notify.http import Outbound, dumps
from services.remediate.notify.slack_interaction import SlackDecision, verified_decision

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/integrations/slack", tags=["notifications"])

MAX_BODY = 64 * 1024  # Slack's interaction payloads are a few KiB
MAX_USER_ID = 64  # Slack user ids are about a dozen characters


@router.post(
    "/interactions",
    response_model=SlackAnswer,
    summary="Slack interactivity callback (Approve/Reject buttons)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"payload": {"type": "string"}},
                        "required": ["payload"],
                    }
                }
            },
        }
    },
    responses={
        400: {"model": ErrorBody, "description": "Not one of Vigil's button clicks."},
        401: {"model": ErrorBody, "description": "Signature missing, invalid or expired."},
        403: {"model": ErrorBody, "description": "This user may not decide on the action."},
        404: {"model": ErrorBody, "description": "Unknown action, or Slack not configured."},
        409: {"model": ErrorBody, "description": "Already decided or expired."},
    },
)
async def slack_interaction(request: Request) -> SlackAnswer:
    """Verify Slack's signature and timestamp (5 minutes), then approve or reject the action."""
    config: NotifyConfig = request.app.state.notify
    if not config.slack_signing_secret:
        raise NotFound("Slack interactivity is not configured (VIGIL_SLACK_SIGNING_SECRET)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise InvalidMessage("payload too large")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidMessage("payload too large")
    click = verified_decision(
        config.slack_signing_secret,
        dict(request.headers),
        body,
        now=time.time(),
        window=config.slack_window_s,
    )
    if not click.user_id:
        raise InvalidMessage("the payload names no Slack user")
    if len(click.user_id) > MAX_USER_ID:
        raise InvalidMessage("the payload's Slack user id is too long")
    tx = get_transaction(request)

    def decide() -> Refusal | tuple[str, str]:
        with tx() as session:
            who = slack_principal(session, user_id=click.user_id, users=config.slack_users)
            if isinstance(who, Refusal):  # the audit record is committed, then refused below
                record_refusal(
                    session, refusal=who, user_id=click.user_id, action_id=click.request_id,
                    decision=click.decision,
                )  # fmt: skip
                return who
            action = remediation.decide_as(
                session,
                action_id=click.request_id,
                principal=who,
                decision=click.decision,
                via="slack",
            )
            return who.name, action.state.value

    try:
        outcome = await asyncio.to_thread(decide)
        if isinstance(outcome, Refusal):
            raise NotAllowed(outcome.reason)
        actor, state = outcome
    except RemediationError as exc:
        # The clicker sees why nothing happened (only they see it); the status stays 403/409.
        _reply_later(config, click, {"response_type": "ephemeral", "text": str(exc)})
        raise
    verb = "approved" if click.decision == "approve" else "rejected"
    text = f"<@{click.user_id}> {verb} action {click.request_id} (now {state})"
    _reply_later(
        config, click, {"response_type": "in_channel", "replace_original": False, "text": text}
    )
    return SlackAnswer(
        ok=True, action_id=click.request_id, decision=click.decision, actor=actor, status=state
    )


_PENDING: set[asyncio.Task[None]] = set()  # replies under way (a task needs a reference)


def _reply_later(config: NotifyConfig, click: SlackDecision, message: dict[str, Any]) -> None:
    """Post `message` to the click's response_url after answering (Slack wants an answer
    within 3 s); best effort: a failure is logged, the decision stands."""
    url = click.response_url
    if not url or not url.startswith(config.slack_response_prefix):
        return
    task = asyncio.create_task(_reply(config, url, message))
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


async def _reply(config: NotifyConfig, url: str, message: dict[str, Any]) -> None:
    outbound = Outbound(config.policy, timeout_s=config.timeout_s)
    try:
        outcome = await outbound.send("POST", url, body=dumps(message))
        if not outcome.ok:
            log.warning("Slack response_url answer failed: %s", outcome.error)
    finally:
        await outbound.aclose()
