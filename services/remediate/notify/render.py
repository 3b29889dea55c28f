"""Tool-neutral pieces of a rendered message, and Slack's Block Kit (shared by both Slack kinds).

Pure functions of a `NotificationMessage`: tested without any network.
"""

from __future__ import annotations

from typing import Any

from services.core.events import Severity
from services.remediate.notify.base import NotificationMessage

SEVERITY_COLOR = {  # hex, for tools that colour messages
    Severity.INFO: "#439FE0",
    Severity.WARNING: "#DAA038",
    Severity.ERROR: "#E8692A",
    Severity.CRITICAL: "#D00000",
}
APPROVE_ACTION_ID = "vigil_remediation_approve"
REJECT_ACTION_ID = "vigil_remediation_reject"
REMEDIATION_BLOCK_PREFIX = "vigil_remediation:"


def facts(message: NotificationMessage) -> list[tuple[str, str]]:
    """The labelled facts every tool shows: severity, service, status, event."""
    return [
        ("Severity", message.severity.value),
        ("Service", message.service),
        ("Status", message.status),
        ("Event", message.event_type),
    ]


def plain_text(message: NotificationMessage) -> str:
    """The message as plain text (e-mail bodies, descriptions, fallbacks)."""
    lines = [message.headline, ""]
    lines += [f"{name}: {value}" for name, value in facts(message)]
    if message.explanation:
        lines += ["", message.explanation]
    for item in message.digest:
        lines.append(f"- [{item.severity.value}] {item.service}: {item.title} ({item.incident_id})")
    if message.remediation:
        ask = message.remediation
        lines += ["", f"Proposed remediation: {ask.action} on {ask.target} (risk {ask.risk})"]
    if message.link:
        lines += ["", message.link]
    return "\n".join(lines)


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(message: NotificationMessage) -> list[dict[str, Any]]:
    """Block Kit blocks: header, facts, explanation, digest, link and Approve/Reject buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.headline[:150]}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{slack_escape(value)}"}
                for name, value in facts(message)
            ],
        },
    ]
    if message.explanation:
        text = slack_escape(message.explanation)[:3000]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if message.digest:
        rows = "\n".join(
            f"• [{i.severity.value}] {slack_escape(i.service)}: {slack_escape(i.title)}"
            for i in message.digest[:40]
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": rows[:3000]}})
    if message.remediation:
        ask = message.remediation
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Proposed remediation: *{slack_escape(ask.action)}* on "
                    f"`{slack_escape(ask.target)}` (risk {ask.risk})",
                },
            }
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{REMEDIATION_BLOCK_PREFIX}{ask.request_id}"[:255],
                "elements": [
                    _button("Approve", APPROVE_ACTION_ID, ask.request_id, "primary"),
                    _button("Reject", REJECT_ACTION_ID, ask.request_id, "danger"),
                ],
            }
        )
    if message.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Vigil"},
                        "url": message.link,
                        "action_id": "vigil_open",
                    }
                ],
            }
        )
    return blocks


def _button(label: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "action_id": action_id,
        "value": value,
    }
