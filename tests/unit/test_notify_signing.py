"""Signatures: our webhook format and Slack's v0 callbacks (valid, invalid, expired)."""

from __future__ import annotations

import hashlib
import hmac

from services.remediate.notify.signing import (
    sign_slack,
    sign_webhook,
    verify_slack_signature,
    verify_webhook,
    webhook_headers,
)

BODY = b'{"id":"n-1","type":"incident.opened"}'
TS = 1_764_000_000


def test_webhook_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook("s3cret", TS, BODY) == f"sha256={expected}"


def test_valid_webhook_signature_is_accepted_within_the_window() -> None:
    headers = webhook_headers("s3cret", TS, BODY)
    assert verify_webhook("s3cret", headers, BODY, now=TS + 299)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify_webhook("s3cret", lowered, BODY, now=TS)


def test_webhook_with_wrong_secret_or_tampered_body_is_refused() -> None:
    headers = webhook_headers("s3cret", TS, BODY)
    assert not verify_webhook("other", headers, BODY, now=TS)
    assert not verify_webhook("s3cret", headers, BODY + b" ", now=TS)
    forged = dict(headers, **{"X-Vigil-Timestamp": str(TS + 1)})
    assert not verify_webhook("s3cret", forged, BODY, now=TS)


def test_expired_or_future_webhook_timestamp_is_refused() -> None:
    headers = webhook_headers("s3cret", TS, BODY)
    assert not verify_webhook("s3cret", headers, BODY, now=TS + 301)
    assert not verify_webhook("s3cret", headers, BODY, now=TS - 301)
    assert verify_webhook("s3cret", headers, BODY, now=TS + 1000, window=1000)


def test_webhook_without_headers_or_with_garbage_timestamp_is_refused() -> None:
    assert not verify_webhook("s3cret", {}, BODY, now=TS)
    headers = {"X-Vigil-Timestamp": "soon", "X-Vigil-Signature": sign_webhook("s3cret", TS, BODY)}
    assert not verify_webhook("s3cret", headers, BODY, now=TS)


SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def _slack_headers(ts: int = SLACK_TS, signature: str = SLACK_SIGNATURE) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature}


def test_slack_signature_matches_slacks_documented_example() -> None:
    assert sign_slack(SLACK_SECRET, SLACK_TS, SLACK_BODY) == SLACK_SIGNATURE
    assert verify_slack_signature(SLACK_SECRET, _slack_headers(), SLACK_BODY, now=SLACK_TS + 10)


def test_slack_callback_with_bad_signature_is_refused() -> None:
    assert not verify_slack_signature("wrong", _slack_headers(), SLACK_BODY, now=SLACK_TS)
    assert not verify_slack_signature(
        SLACK_SECRET, _slack_headers(), SLACK_BODY + b"&x=1", now=SLACK_TS
    )
    bad = _slack_headers(signature="v0=" + "0" * 64)
    assert not verify_slack_signature(SLACK_SECRET, bad, SLACK_BODY, now=SLACK_TS)
    assert not verify_slack_signature("", _slack_headers(), SLACK_BODY, now=SLACK_TS)
    assert not verify_slack_signature(SLACK_SECRET, {}, SLACK_BODY, now=SLACK_TS)


def test_replayed_slack_callback_outside_five_minutes_is_refused() -> None:
    assert not verify_slack_signature(
        SLACK_SECRET, _slack_headers(), SLACK_BODY, now=SLACK_TS + 301
    )
    assert verify_slack_signature(SLACK_SECRET, _slack_headers(), SLACK_BODY, now=SLACK_TS + 300)
