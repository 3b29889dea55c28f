"""Notifications in the production topology: api and remediate as separate processes on real
Kafka + PostgreSQL. A channel configured through the API (secret encrypted with the key both
processes share) hears about an incident opened and resolved by external alerts; the delivery
results come back to the api (timeline, GET .../deliveries) and remediate's /metrics counts
them per channel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.core.bus.kafka import KafkaBus
from services.core.events import ExternalAlert
from services.core.topics import ALERTS_EXTERNAL
from services.remediate.notify.secretbox import generate_key
from services.remediate.notify.signing import verify_webhook
from tests.factories import alert
from tests.integration.kafka_tools import wait_for
from tests.integration.procs import free_port
from tests.integration.stack import Stack
from tests.unit.test_notify_support import Receiver

SECRET = "stack-hmac-secret"


@pytest.fixture
def stack(kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    running.env.update(
        {
            "VIGIL_SECRET_KEY": generate_key(),
            "VIGIL_REMEDIATE_OUTBOUND_ALLOW_LOOPBACK": "true",
            "VIGIL_NOTIFY_OUTBOUND_ALLOW_LOOPBACK": "true",
            "VIGIL_NOTIFY_CHANNELS_REFRESH_S": "0.5",
            "VIGIL_REMEDIATE_HTTP_PORT": str(free_port()),
        }
    )
    running.start("api")
    running.start("remediate")
    yield running
    running.stop_all()


def _publish(stack: Stack, *alerts: ExternalAlert) -> None:
    async def send() -> None:
        bus = KafkaBus([stack.kafka], client_id="t-notify-alerts", topic_prefix=stack.prefix)
        await bus.start()
        try:
            await bus.publish(ALERTS_EXTERNAL, list(alerts))
        finally:
            await bus.stop()

    asyncio.run(send())


def test_incident_changes_are_delivered_and_reported_back(stack: Stack) -> None:
    api = httpx.Client(base_url=stack.api, headers=stack.headers, timeout=30)
    with Receiver() as receiver:
        body = {
            "name": "ops-hook",
            "kind": "webhook",
            "url": receiver.url + "/hook",
            "secret": SECRET,
            "rules": [{"min_severity": "warning", "services": ["checkout"]}],
        }
        created = api.post("/api/v1/channels", json=body)
        assert created.status_code == 201, created.text
        probe = api.post(f"/api/v1/channels/{created.json()['id']}/test").json()
        assert probe["delivered"] is True, probe

        _publish(stack, alert("firing", fingerprint="fp-n", minute=0))
        wait_for(
            lambda: stack.incidents("checkout"),
            timeout_s=60,
            what="the incident to open",
        )
        _publish(stack, alert("resolved", fingerprint="fp-n", minute=1))
        wait_for(
            lambda: any(r.json()["type"] == "incident.resolved" for r in receiver.received),
            timeout_s=90,
            what="the resolution to be delivered",
        )
        received = list(receiver.received)

    now = time.time()
    assert all(verify_webhook(SECRET, r.headers, r.body, now=now) for r in received)
    bodies = [r.json() for r in received]
    assert bodies[0]["incident"]["title"] == "Test message from Vigil to channel ops-hook"
    (incident,) = stack.incidents("checkout")
    about = [(b["type"], b["incident"]["incident_id"]) for b in bodies[1:]]
    assert about == [("incident.opened", incident["id"]), ("incident.resolved", incident["id"])]

    def deliveries() -> list[dict[str, object]]:
        response = api.get(f"/api/v1/incidents/{incident['id']}/deliveries")
        return list(response.json()["items"])

    done = wait_for(
        lambda: len(deliveries()) >= 2 and deliveries(),
        timeout_s=60,
        what="delivery results on the api",
    )
    assert {(d["channel"], d["status"]) for d in done} == {("ops-hook", "delivered")}
    timeline = api.get(f"/api/v1/incidents/{incident['id']}/timeline").json()
    entries = timeline["items"] if isinstance(timeline, dict) else timeline
    sent = [e for e in entries if e["kind"] == "notification.sent"]
    assert len(sent) >= 2 and sent[0]["detail"]["summary"].startswith("notification to ops-hook")
    port = stack.env["VIGIL_REMEDIATE_HTTP_PORT"]
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'vigil_notify_sent_total{channel="ops-hook"} 2.0' in metrics
    api.close()
