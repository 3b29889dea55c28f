"""HTTP runbooks: Rundeck jobs, StackStorm webhooks and generic webhooks.

Endpoints and secrets come from the service's settings, never from a command: a command names
a configured endpoint (`webhook`) or job (`job_id`) and carries only the payload. Every URL
passes the outbound policy (`services.core.netpolicy.check_url`) before it is called, and
redirects are not followed (a redirect could lead past the policy).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from services.core.events import RemediationCommand
from services.core.netpolicy import BlockedURL, OutboundPolicy, Resolver, check_url, system_resolver
from services.remediate.clock import Clock
from services.remediate.errors import ExecutorError, Refused
from services.remediate.executors.base import (
    REDACTED,
    Executor,
    Outcome,
    PlannedCall,
    parse_params,
)

JSON = "application/json"
SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"


@dataclass(frozen=True)
class RundeckConfig:
    """A Rundeck server and an API token allowed to run jobs."""

    url: str
    token: str
    api_version: int = 41


@dataclass(frozen=True)
class StackStormConfig:
    """A StackStorm server and an API key."""

    url: str
    api_key: str


@dataclass(frozen=True)
class WebhookConfig:
    """A generic webhook: bearer token or HMAC-SHA256 signature over `timestamp.body`."""

    url: str
    auth: Literal["none", "bearer", "hmac"] = "none"
    secret: str = ""


@dataclass(frozen=True)
class RunbookConfig:
    """Every HTTP runbook endpoint the worker may call."""

    rundeck: RundeckConfig | None = None
    stackstorm: StackStormConfig | None = None
    webhooks: dict[str, WebhookConfig] = field(default_factory=dict)
    policy: OutboundPolicy = OutboundPolicy()
    timeout_s: float = 10.0


class RundeckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
    options: dict[str, str] = Field(default_factory=dict)


class WebhookParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook: str = Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
    payload: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    secret_headers: frozenset[str]
    body: bytes
    document: Any

    def planned(self) -> PlannedCall:
        shown = {k: (REDACTED if k in self.secret_headers else v) for k, v in self.headers.items()}
        return PlannedCall(self.method, self.url, JSON, shown, self.document)


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def context(command: RemediationCommand) -> dict[str, Any]:
    """What every webhook payload says about the command."""
    return {
        "command_id": command.id,
        "incident_id": command.incident_id,
        "action": command.action,
        "target": command.target,
    }


class HttpRunbookExecutor(Executor):
    """`rundeck.run`, `stackstorm.webhook` and `webhook.call`."""

    actions = ("rundeck.run", "stackstorm.webhook", "webhook.call")

    def __init__(
        self,
        config: RunbookConfig,
        clock: Clock,
        *,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.resolver = resolver
        self.transport = transport

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        """The one request the action sends (secrets redacted)."""
        return [self._build(command).planned()]

    def _build(self, command: RemediationCommand) -> _Request:
        base = {"Content-Type": JSON, "Accept": JSON}
        if command.action == "rundeck.run":
            rundeck = self.config.rundeck
            if rundeck is None:
                raise Refused("no Rundeck server configured")
            p = parse_params(RundeckParams, command)
            url = f"{rundeck.url.rstrip('/')}/api/{rundeck.api_version}/job/{p.job_id}/run"
            doc: Any = {"options": p.options}
            headers = {**base, "X-Rundeck-Auth-Token": rundeck.token}
            secret_keys = frozenset({"X-Rundeck-Auth-Token"})
            return _Request("POST", url, headers, secret_keys, _encode(doc), doc)
        w = parse_params(WebhookParams, command)
        doc = {**w.payload, "vigil": context(command)}
        body = _encode(doc)
        if command.action == "stackstorm.webhook":
            st2 = self.config.stackstorm
            if st2 is None:
                raise Refused("no StackStorm server configured")
            url = f"{st2.url.rstrip('/')}/api/v1/webhooks/{w.webhook}"
            headers = {**base, "St2-Api-Key": st2.api_key}
            return _Request("POST", url, headers, frozenset({"St2-Api-Key"}), body, doc)
        if command.action != "webhook.call":
            raise Refused(f"unknown runbook action {command.action!r}")
        hook = self.config.webhooks.get(w.webhook)
        if hook is None:
            raise Refused(f"no webhook named {w.webhook!r} is configured")
        headers = dict(base)
        secret: set[str] = set()
        if hook.auth == "bearer":
            headers["Authorization"] = f"Bearer {hook.secret}"
            secret.add("Authorization")
        elif hook.auth == "hmac":
            stamp = str(int(self.clock.now().timestamp()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = "sha256=" + sign(hook.secret, stamp, body)
            secret.add(SIGNATURE_HEADER)
        return _Request("POST", hook.url, headers, frozenset(secret), body, doc)

    async def execute(self, command: RemediationCommand) -> Outcome:
        """Check the URL against the outbound policy, then send the request."""
        request = self._build(command)
        try:
            check_url(request.url, self.config.policy, self.resolver)
        except BlockedURL as exc:
            raise Refused(f"outbound policy: {exc}") from exc
        async with httpx.AsyncClient(
            timeout=self.config.timeout_s, follow_redirects=False, transport=self.transport
        ) as http:
            try:
                response = await http.request(
                    request.method, request.url, headers=request.headers, content=request.body
                )
            except httpx.HTTPError as exc:
                raise ExecutorError(f"{request.url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise ExecutorError(f"{command.action}: HTTP {response.status_code} from the runbook")
        return Outcome(True, f"{command.action}: HTTP {response.status_code}", _facts(response))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of `timestamp.body`, hex: what receivers verify."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _facts(response: httpx.Response) -> dict[str, Any]:
    """Execution id and link when the runbook tool returns them (Rundeck does)."""
    try:
        data = response.json()
    except ValueError:
        return {"status_code": response.status_code}
    facts: dict[str, Any] = {"status_code": response.status_code}
    if isinstance(data, dict):
        for key in ("id", "permalink", "href", "execution_id"):
            if key in data and isinstance(data[key], str | int):
                facts[key] = data[key]
    return facts
