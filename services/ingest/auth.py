"""Ingest tokens: who may send, and which tenant their data belongs to.

With no tokens configured every request is tenant `default`. With tokens, a request must carry
one: `Authorization: Bearer <token>`, HTTP Basic with the token as password (what Prometheus
and Alertmanager offer), `X-Vigil-Token: <token>`, or for PagerDuty-style senders the event's
`routing_key`. Tokens are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from services.ingest.errors import Unauthorized

DEFAULT_TENANT = "default"


class TokenAuth:
    """Maps a presented token to its tenant."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = [(token.encode(), tenant) for token, tenant in tokens.items()]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def tenant(self, headers: Mapping[str, str], routing_key: str | None = None) -> str:
        """The tenant of the request's token; `default` when auth is off; else a 401."""
        if not self._tokens:
            return DEFAULT_TENANT
        for candidate in (*_presented(headers), routing_key):
            if candidate:
                tenant = self._match(candidate)
                if tenant is not None:
                    return tenant
        raise Unauthorized("a valid ingest token is required")

    def _match(self, candidate: str) -> str | None:
        presented = candidate.encode()
        found = None
        for token, tenant in self._tokens:
            if hmac.compare_digest(presented, token):
                found = tenant
        return found


def presented_token(headers: Mapping[str, str]) -> bool:
    """Whether the headers carry any token at all."""
    return any(_presented(headers))


def _presented(headers: Mapping[str, str]) -> list[str]:
    found = []
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        found.append(value.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        found.append(decoded.partition(":")[2])
    found.append(headers.get("x-vigil-token", "").strip())
    return [token for token in found if token]
