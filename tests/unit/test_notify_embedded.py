"""Notifications in the embedded stack (`vigil up`): a channel created through the API reaches
the in-process remediate workers; the generated channel-secret key is kept next to the SQLite
file, so a restarted stack still reads its channels."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api.auth.roles import Role
from services.core.topics import ALERTS_EXTERNAL
from services.embedded import EmbeddedStack
from services.remediate.notify.signing import verify_webhook
from tests.factories import alert
from tests.unit.test_notify_support import Receiver

SECRET = "embedded-hmac-secret"


async def _until(predicate: Any, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _run(url: str, receiver: Receiver, service: str, create: bool) -> list[Any]:
    stack = EmbeddedStack.build(url, trust_local_urls=True)
    await stack.start()
    key = stack.api.create_key("t", Role.ADMIN)
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.api.app),
        base_url="http://api",
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        if create:
            body = {"name": "ops", "kind": "webhook", "url": receiver.url, "secret": SECRET}
            created = await api.post("/api/v1/channels", json={**body, "rules": [{}]})
            assert created.status_code == 201, created.text
            await asyncio.sleep(0.3)  # the workers re-read the channel table (0.1 s here)
        seen = len(receiver.received)
        await stack.bus.publish(ALERTS_EXTERNAL, [alert(fingerprint=service, service=service)])
        await _until(lambda: len(receiver.received) > seen, "the notification")
        await stack.api.relay.relay_once()
        await stack.bus.drain()
        page = (await api.get("/api/v1/incidents", params={"service": service})).json()
        (incident,) = page["items"]
        answer = await api.get(f"/api/v1/incidents/{incident['id']}/deliveries")
        deliveries = answer.json()["items"]
        return [receiver.received[seen:], deliveries]
    finally:
        await api.aclose()
        await stack.stop()


def test_a_channel_made_through_the_api_is_used_and_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_NOTIFY_CHANNELS_REFRESH_S", "0.1")
    monkeypatch.delenv("VIGIL_SECRET_KEY", raising=False)
    monkeypatch.delenv("VIGIL_SECRET_KEY_FILE", raising=False)
    url = f"sqlite:///{tmp_path}/vigil.db"
    with Receiver() as receiver:
        first, first_status = asyncio.run(_run(url, receiver, "checkout", create=True))
        assert (tmp_path / "vigil.secret-key").exists()
        second, second_status = asyncio.run(_run(url, receiver, "payments", create=False))
    for request in [*first, *second]:
        assert verify_webhook(SECRET, request.headers, request.body, now=time.time())
        assert request.json()["type"] == "incident.opened"
    assert [r.json()["incident"]["service"] for r in [*first, *second]] == ["checkout", "payments"]
    assert [d["status"] for d in first_status] == ["delivered"]
    assert [d["status"] for d in second_status] == ["delivered"]
