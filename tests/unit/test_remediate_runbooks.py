"""HTTP runbooks against a local server: exact paths, verbs, headers and bodies."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

import pytest

from services.core.events import RemediationCommand
from services.core.netpolicy import OutboundPolicy
from services.remediate.errors import ExecutorError, Refused
from services.remediate.executors.base import REDACTED
from services.remediate.executors.runbooks import (
    HttpRunbookExecutor,
    RunbookConfig,
    RundeckConfig,
    StackStormConfig,
    WebhookConfig,
)
from tests.unit.remediate_fakes import FakeClock, Recorder, http_server

LOOPBACK = OutboundPolicy(allow_loopback=True)


def command(action: str, **params: Any) -> RemediationCommand:
    return RemediationCommand(
        id="cmd-1",
        incident_id="inc-1",
        request_id="req-1",
        action=action,
        target="checkout",
        params=params,
    )


def executor(server: Recorder, policy: OutboundPolicy = LOOPBACK) -> HttpRunbookExecutor:
    config = RunbookConfig(
        rundeck=RundeckConfig(server.url, "rd-token", api_version=41),
        stackstorm=StackStormConfig(server.url, "st2-key"),
        webhooks={
            "bearer": WebhookConfig(f"{server.url}/hooks/bearer", "bearer", "s3cret"),
            "signed": WebhookConfig(f"{server.url}/hooks/signed", "hmac", "hmac-key"),
        },
        policy=policy,
    )
    return HttpRunbookExecutor(config, FakeClock())


def test_rundeck_job_run_posts_options_with_the_auth_token() -> None:
    with http_server() as server:
        server.routes[("POST", "/api/41/job/restart-app/run")] = (
            200,
            {"id": 77, "permalink": "http://rd/77"},
        )
        outcome = asyncio.run(
            executor(server).execute(
                command("rundeck.run", job_id="restart-app", options={"svc": "checkout"})
            )
        )
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("POST", "/api/41/job/restart-app/run")
    assert seen.headers["x-rundeck-auth-token"] == "rd-token"
    assert seen.content_type == "application/json"
    assert seen.json() == {"options": {"svc": "checkout"}}
    assert outcome.output == {"status_code": 200, "id": 77, "permalink": "http://rd/77"}


def test_stackstorm_webhook_posts_payload_and_context_with_the_api_key() -> None:
    with http_server() as server:
        server.routes[("POST", "/api/v1/webhooks/vigil")] = (202, {})
        asyncio.run(
            executor(server).execute(
                command("stackstorm.webhook", webhook="vigil", payload={"k": "v"})
            )
        )
    (seen,) = server.seen
    assert seen.path == "/api/v1/webhooks/vigil"
    assert seen.headers["st2-api-key"] == "st2-key"
    assert seen.json() == {
        "k": "v",
        "vigil": {
            "command_id": "cmd-1",
            "incident_id": "inc-1",
            "action": "stackstorm.webhook",
            "target": "checkout",
        },
    }


def test_generic_webhook_with_bearer_auth() -> None:
    with http_server() as server:
        server.routes[("POST", "/hooks/bearer")] = (200, {})
        asyncio.run(executor(server).execute(command("webhook.call", webhook="bearer")))
    assert server.seen[0].headers["authorization"] == "Bearer s3cret"


def test_generic_webhook_with_hmac_signs_timestamp_and_exact_body() -> None:
    with http_server() as server:
        server.routes[("POST", "/hooks/signed")] = (200, {})
        asyncio.run(
            executor(server).execute(command("webhook.call", webhook="signed", payload={"a": 1}))
        )
    seen = server.seen[0]
    stamp = seen.headers["x-vigil-timestamp"]
    expected = hmac.new(b"hmac-key", stamp.encode() + b"." + seen.body, hashlib.sha256)
    assert seen.headers["x-vigil-signature"] == "sha256=" + expected.hexdigest()
    assert "authorization" not in seen.headers


def test_server_error_is_a_failure() -> None:
    with http_server() as server:
        server.routes[("POST", "/hooks/bearer")] = (500, {"error": "boom"})
        with pytest.raises(ExecutorError, match="HTTP 500"):
            asyncio.run(executor(server).execute(command("webhook.call", webhook="bearer")))


def test_outbound_policy_is_checked_before_any_request() -> None:
    with http_server() as server:
        with pytest.raises(Refused, match="loopback"):
            asyncio.run(
                executor(server, OutboundPolicy()).execute(
                    command("webhook.call", webhook="bearer")
                )
            )
    assert server.seen == []


def test_metadata_service_is_refused_even_when_private_ranges_are_allowed() -> None:
    config = RunbookConfig(
        webhooks={"meta": WebhookConfig("http://169.254.169.254/latest/meta-data")},
        policy=OutboundPolicy(allow_private=True, allow_loopback=True),
    )
    with pytest.raises(Refused, match="metadata"):
        asyncio.run(
            HttpRunbookExecutor(config, FakeClock()).execute(
                command("webhook.call", webhook="meta")
            )
        )


def test_unknown_webhook_name_is_refused() -> None:
    with pytest.raises(Refused, match="no webhook named"):
        HttpRunbookExecutor(RunbookConfig(), FakeClock()).plan(
            command("webhook.call", webhook="nope")
        )


def test_preview_matches_the_sent_request_with_secrets_redacted() -> None:
    with http_server() as server:
        server.routes[("POST", "/api/41/job/j1/run")] = (200, {})
        runbooks = executor(server)
        (planned,) = runbooks.plan(command("rundeck.run", job_id="j1"))
        asyncio.run(runbooks.execute(command("rundeck.run", job_id="j1")))
    sent = server.seen[0]
    assert planned.method == sent.method
    assert planned.url == f"{server.url}{sent.path}"
    assert planned.body == sent.json()
    assert planned.headers["X-Rundeck-Auth-Token"] == REDACTED


@pytest.mark.parametrize("name", ["..", "../admin", "a/b", ".hidden"])
def test_names_that_could_escape_the_url_path_are_refused(name: str) -> None:
    with http_server() as server:
        with pytest.raises(Refused, match="bad params"):
            executor(server).plan(command("stackstorm.webhook", webhook=name))
        with pytest.raises(Refused, match="bad params"):
            executor(server).plan(command("rundeck.run", job_id=name))
