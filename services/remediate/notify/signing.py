"""Signatures on outbound webhooks (ours) and on inbound Slack callbacks (Slack's v0 scheme).

Ours: `X-Vigil-Timestamp: <unix seconds>` and
`X-Vigil-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the channel secret>`.
Slack's: `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex HMAC-SHA256 of
"v0:<timestamp>:<body>" with the signing secret>`. Both refuse timestamps outside a window
(replays) and compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Vigil-Timestamp"
SIGNATURE_HEADER = "X-Vigil-Signature"
SLACK_TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SLACK_SIGNATURE_HEADER = "X-Slack-Signature"
DEFAULT_WINDOW_S = 300


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Vigil-Signature` value for a body sent at `timestamp` (unix seconds)."""
    return "sha256=" + _hmac_hex(secret, str(timestamp).encode() + b"." + body)


def webhook_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both signature headers of our webhook format."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_webhook(secret, timestamp, body),
    }


def _fresh(timestamp: str | None, now: float, window: float) -> int | None:
    if timestamp is None or not timestamp.strip().isdigit():
        return None
    value = int(timestamp.strip())
    return value if abs(now - value) <= window else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    window: float = DEFAULT_WINDOW_S,
) -> bool:
    """Whether a request carries a valid, fresh Vigil signature (header names any case)."""
    ts = _fresh(_header(headers, TIMESTAMP_HEADER), now, window)
    signature = _header(headers, SIGNATURE_HEADER)
    if ts is None or signature is None:
        return False
    return hmac.compare_digest(signature.strip(), sign_webhook(secret, ts, body))


def sign_slack(signing_secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack would send (v0 scheme); for tests and tools."""
    return "v0=" + _hmac_hex(signing_secret, b"v0:" + str(timestamp).encode() + b":" + body)


def verify_slack_signature(
    signing_secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    window: float = DEFAULT_WINDOW_S,
) -> bool:
    """Whether an interactivity callback really comes from Slack, and recently (v0 scheme)."""
    ts = _fresh(_header(headers, SLACK_TIMESTAMP_HEADER), now, window)
    signature = _header(headers, SLACK_SIGNATURE_HEADER)
    if ts is None or signature is None or not signing_secret:
        return False
    return hmac.compare_digest(signature.strip(), sign_slack(signing_secret, ts, body))
