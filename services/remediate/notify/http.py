"""The one HTTP door of the notifiers: URL policy, timeouts, and status classification.

Every URL is checked against the outbound policy (services/core/netpolicy.py) right before the
request, so a channel cannot be pointed at the cloud metadata service or, unless the operator
allows it, at private and loopback addresses. httpx errors become retryable outcomes here;
nothing above this module sees an httpx exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.core.netpolicy import BlockedURL, OutboundPolicy, Resolver, check_url, system_resolver
from services.remediate.notify.base import DeliveryOutcome
from services.remediate.notify.retry import Clock, classify_status

USER_AGENT = "Vigil-Notify/1"
# Reads a 2xx response; returns the provider's reference, or an outcome overriding success.
RefParser = Callable[[httpx.Response], "str | DeliveryOutcome"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def dumps(payload: Any) -> bytes:
    """Compact, stable JSON: the exact bytes we sign and send."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class Outbound:
    """Sends requests for notifiers; shared by all channels of a worker."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        resolver: Resolver = system_resolver,
        clock: Clock = _utcnow,
    ) -> None:
        self.policy = policy
        self.client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self.resolver = resolver
        self.clock = clock

    async def check(self, url: str) -> None:
        """Raise BlockedURL unless the policy allows the URL (DNS lookups off the loop)."""
        await asyncio.to_thread(check_url, url, self.policy, self.resolver)

    async def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        parse: RefParser | None = None,
    ) -> DeliveryOutcome:
        """One request; the outcome says delivered, transient (retry) or permanent."""
        try:
            await self.check(url)
        except BlockedURL as exc:
            return DeliveryOutcome.permanent(f"blocked by outbound policy: {exc}")
        sent_headers = {"User-Agent": USER_AGENT}
        if body is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        try:
            response = await self.client.request(method, url, content=body, headers=sent_headers)
        except httpx.HTTPError as exc:  # connect, read, timeouts, protocol errors
            error = scrub(f"{type(exc).__name__}: {exc}".rstrip(": "), url)
            return DeliveryOutcome.transient(error)
        outcome = classify_status(
            response.status_code,
            retry_after=response.headers.get("Retry-After"),
            now=self.clock(),
            body=scrub(response.text, url),
        )
        if not outcome.ok or parse is None:
            return outcome
        parsed = parse(response)
        return parsed if isinstance(parsed, DeliveryOutcome) else DeliveryOutcome.delivered(parsed)

    async def aclose(self) -> None:
        await self.client.aclose()


def scrub(text: str, url: str) -> str:
    """Remove a URL's path and query from text: webhook URLs often embed their secret."""
    parts = urlsplit(url)
    secret = parts.path + ("?" + parts.query if parts.query else "")
    return text.replace(secret, "/<redacted>") if len(secret) > 1 else text


def json_field(response: httpx.Response, *path: str) -> str:
    """A string deep in a JSON response body, or "" when absent or not JSON."""
    try:
        value: Any = response.json()
    except ValueError:
        return ""
    for key in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(key)
    return str(value) if value is not None else ""
