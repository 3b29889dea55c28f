"""The notification side of the remediate process, wired as `build_notifications` wires it:
channels and routing rules read from the api's table (secrets decrypted), incident changes
planned into notifications, delivered to local receivers, results published, per-channel
metrics. In-memory bus and SQLite; the receivers are real HTTP servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from sqlalchemy import update

import migrations
from services.api.auth.principal import CLI
from services.api.notifications import service as channels
from services.api.notifications.models import NotificationChannel
from services.api.notifications.schemas import ChannelCreate
from services.core.bus import InMemoryBus
from services.core.db import make_engine, make_session_factory, transaction
from services.core.errors import ConfigurationError, RetryableError
from services.core.events import (
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    RemediationRequest,
    Severity,
)
from services.core.metrics import new_registry
from services.core.topics import INCIDENTS, NOTIFICATIONS_RESULTS, REMEDIATION_REQUESTS
from services.remediate.notify.base import ChannelConfig, NotifyError
from services.remediate.notify.directory import DatabaseChannels
from services.remediate.notify.keys import load_or_create_key, secret_box
from services.remediate.notify.retry import RetryPolicy
from services.remediate.notify.secretbox import SecretBox, generate_key
from services.remediate.notify.signing import verify_webhook
from services.remediate.service import build_notifications
from services.remediate.settings import RemediateSettings
from tests.unit.test_notify_support import Receiver, Reply

FAST = RetryPolicy(max_attempts=3, base_s=0.01, max_delay_s=0.02)
T0 = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)


def change(
    incident: str,
    kind: IncidentEventType = IncidentEventType.OPENED,
    *,
    severity: Severity = Severity.ERROR,
    service: str = "checkout",
    silenced: bool = False,
    n: int = 0,
) -> IncidentEvent:
    return IncidentEvent(
        id=f"{incident}-{kind.value}-{n}",
        type=kind,
        incident_id=incident,
        title=f"{service} latency above forecast",
        service=service,
        severity=severity,
        status=IncidentStatus.RESOLVED
        if kind is IncidentEventType.RESOLVED
        else IncidentStatus.OPEN,
        opened_at=T0,
        silenced=silenced,
    )


class World:
    """A migrated SQLite database with channels, and the settings a remediate process reads."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path}/vigil.db"
        migrations.upgrade(self.url)
        self.key = generate_key()
        self.box = SecretBox(self.key)
        self.engine = make_engine(self.url)
        self.factory = make_session_factory(self.engine)
        self.settings = RemediateSettings(
            database_url=self.url,
            secret_key=self.key,
            remediate_outbound_allow_loopback=True,
            notify_channels_refresh_s=0.01,
            notify_link_base="https://vigil.example",
        )

    def add(self, **body: Any) -> str:
        with transaction(self.factory) as session:
            channel = channels.create(
                session=session, actor=CLI, body=ChannelCreate(**body), box=self.box
            )
            return channel.id


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.engine.dispose()


async def _run(world: World, events: list[tuple[Any, list[Any]]]) -> tuple[InMemoryBus, Any]:
    bus = InMemoryBus()
    notify = build_notifications(world.settings, bus, retry=FAST)
    await bus.start()
    for topic, batch in events:
        await bus.publish(topic, batch)
        await bus.drain()
    await bus.stop()
    await notify.stop()
    return bus, notify


def test_an_incident_change_reaches_the_channels_its_rules_route_it_to(world: World) -> None:
    with Receiver() as ops, Receiver() as payments:
        world.add(
            name="ops-hook",
            kind="webhook",
            url=ops.url + "/ops",
            secret="ops-secret",
            rules=[{"min_severity": "error"}],
        )
        world.add(
            name="payments-hook",
            kind="webhook",
            url=payments.url,
            secret="pay-secret",
            rules=[{"services": ["payments-*"]}],
        )
        bus, notify = asyncio.run(_run(world, [(INCIDENTS, [change("inc-1")])]))

    assert payments.received == []  # checkout is not payments-*
    assert len(ops.received) == 1
    request = ops.received[0]
    assert request.path == "/ops"
    assert verify_webhook("ops-secret", request.headers, request.body, now=time.time())
    assert not verify_webhook("pay-secret", request.headers, request.body, now=time.time())
    body = request.json()
    assert body["type"] == "incident.opened"
    assert body["channel"] == "ops-hook"
    assert body["incident"]["incident_id"] == "inc-1"
    assert body["incident"]["link"] == "https://vigil.example/incidents/inc-1"
    results = [json.loads(m.value) for m in bus.recent(NOTIFICATIONS_RESULTS.name)]
    assert [(r["channel"], r["status"], r["incident_id"]) for r in results] == [
        ("ops-hook", "delivered", "inc-1")
    ]
    metrics = _metrics(notify)
    assert 'vigil_notify_sent_total{channel="ops-hook"} 1.0' in metrics
    assert "vigil_notify_planned_total 1.0" in metrics


def test_silenced_changes_and_disabled_channels_send_nothing(world: World) -> None:
    with Receiver() as receiver:
        world.add(name="quiet", kind="webhook", url=receiver.url, secret="s", rules=[{}])
        off = world.add(name="off", kind="webhook", url=receiver.url, secret="s", rules=[{}])
        with transaction(world.factory) as session:
            session.execute(
                update(NotificationChannel)
                .where(NotificationChannel.id == off)
                .values(enabled=False)
            )
        asyncio.run(_run(world, [(INCIDENTS, [change("inc-1", silenced=True), change("inc-2")])]))
    assert [r.json()["incident"]["incident_id"] for r in receiver.received] == ["inc-2"]
    assert {r.json()["channel"] for r in receiver.received} == {"quiet"}


def test_a_redelivered_incident_change_is_delivered_once(world: World) -> None:
    with Receiver() as receiver:
        world.add(name="hook", kind="webhook", url=receiver.url, secret="s", rules=[{}])
        event = change("inc-1")
        bus, notify = asyncio.run(_run(world, [(INCIDENTS, [event]), (INCIDENTS, [event])]))
    assert len(receiver.received) == 1
    assert notify.worker.counters["hook"].duplicates == 1


def test_a_receiver_failing_for_good_is_reported_failed_per_channel(world: World) -> None:
    with Receiver(lambda _r: Reply(500, b"down")) as receiver:
        world.add(name="flaky", kind="webhook", url=receiver.url, secret="s", rules=[{}])
        bus, notify = asyncio.run(_run(world, [(INCIDENTS, [change("inc-1")])]))
    assert len(receiver.received) == FAST.max_attempts
    (result,) = [json.loads(m.value) for m in bus.recent(NOTIFICATIONS_RESULTS.name)]
    assert (result["status"], result["attempts"]) == ("failed", 3)
    assert 'vigil_notify_failed_total{channel="flaky"} 1.0' in _metrics(notify)
    assert 'vigil_notify_retries_total{channel="flaky"} 2.0' in _metrics(notify)


def test_an_action_awaiting_approval_is_offered_with_its_request_id(world: World) -> None:
    with Receiver() as receiver:
        world.add(name="hook", kind="webhook", url=receiver.url, secret="s", rules=[{}])
        request = RemediationRequest(
            id="act-7", incident_id="inc-1", action="restart", target="deploy/checkout", risk="high"
        )
        asyncio.run(
            _run(world, [(INCIDENTS, [change("inc-1")]), (REMEDIATION_REQUESTS, [request])])
        )
    opened, ask = (r.json() for r in receiver.received)
    assert "remediation" not in opened
    assert ask["remediation"] == {
        "request_id": "act-7",
        "action": "restart",
        "target": "deploy/checkout",
        "risk": "high",
    }
    assert ask["incident"]["incident_id"] == "inc-1"
    assert ask["incident"]["service"] == "checkout"  # routed as its incident
    assert "Approval needed: restart on deploy/checkout" in ask["incident"]["title"]


def test_a_flood_of_openings_becomes_one_digest(world: World) -> None:
    world.settings = world.settings.model_copy(
        update={"notify_flood_threshold": 2, "notify_flood_window_s": 60.0}
    )

    async def scenario() -> Any:
        bus = InMemoryBus()
        notify = build_notifications(world.settings, bus, retry=FAST)
        now = [T0]
        notify.planner.clock = lambda: now[0]
        await bus.start()
        await bus.publish(INCIDENTS, [change(f"inc-{i}", n=i) for i in range(5)])
        await bus.drain()
        now[0] = T0 + timedelta(seconds=61)
        assert await notify.planner.flush_digests() == 1
        await bus.drain()
        await bus.stop()
        await notify.stop()
        return notify

    with Receiver() as receiver:
        world.add(name="hook", kind="webhook", url=receiver.url, secret="s", rules=[{}])
        notify = asyncio.run(scenario())
    bodies = [r.json() for r in receiver.received]
    assert [b["incident"]["incident_id"] for b in bodies[:2]] == ["inc-0", "inc-1"]
    assert len(bodies) == 3
    assert [d["incident_id"] for d in bodies[2]["digest"]] == ["inc-2", "inc-3", "inc-4"]
    assert notify.planner.digests == 1


def test_the_directory_decrypts_secrets_and_refuses_unreadable_ones(world: World) -> None:
    world.add(name="hook", kind="webhook", url="https://h.example/x", secret="top-secret")
    directory = DatabaseChannels(world.engine, world.box, refresh_s=0)
    config = directory.get("hook")
    assert config == ChannelConfig("hook", "webhook", "https://h.example/x", "top-secret", {})
    assert "top-secret" not in repr(config)
    assert directory.get("nope") is None
    other = DatabaseChannels(world.engine, SecretBox(generate_key()), refresh_s=0)
    with pytest.raises(NotifyError, match="cannot be decrypted"):
        other.get("hook")


def test_the_directory_keeps_its_snapshot_while_the_database_is_away(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.add(name="hook", kind="webhook", url="https://h.example/x", secret="s", rules=[{}])
    ticks = [0.0]
    directory = DatabaseChannels(world.engine, world.box, refresh_s=1, monotonic=lambda: ticks[0])
    assert directory.get("hook") is not None
    world.engine.dispose()
    (tmp_path / "vigil.db").unlink()
    (tmp_path / "vigil.db").mkdir()  # now unopenable
    ticks[0] = 5.0
    assert directory.get("hook") is not None and len(directory.rules()) == 1
    fresh = DatabaseChannels(world.engine, world.box)
    with pytest.raises(RetryableError):
        fresh.get("hook")


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="VIGIL_SECRET_KEY is required in production"):
        secret_box(keys="", key_file=str(tmp_path / "k"), environment="production")
    assert not (tmp_path / "k").exists()


def test_a_generated_local_key_is_persisted_privately_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "vigil.secret-key"
    first = secret_box(keys="", key_file=str(path), environment="local")
    assert not path.exists()  # nothing written until a secret is met
    token = first.encrypt("hunter2")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = secret_box(keys="", key_file=str(path), environment="local")
    assert again.decrypt(token) == "hunter2"
    assert load_or_create_key(path) == path.read_text().strip()


def test_a_rotated_key_list_still_decrypts_old_secrets(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox(old).encrypt("s3")
    box = secret_box(keys=f"{new}, {old}", key_file="", environment="production")
    assert box.decrypt(token) == "s3"
    assert SecretBox(new).decrypt(box.encrypt("x")) == "x"  # the first key encrypts


def _metrics(notify: Any) -> str:
    registry = new_registry()
    registry.register(notify.collector())
    return generate_latest(registry).decode()


def test_the_background_reload_picks_up_new_channels(world: World) -> None:
    directory = DatabaseChannels(world.engine, world.box, refresh_s=0.05)

    async def scenario() -> tuple[object, object]:
        reload = asyncio.create_task(directory.run())
        await asyncio.sleep(0.1)
        before = directory.get("late")
        world.add(name="late", kind="webhook", url="https://h.example/x", secret="s", rules=[{}])
        await asyncio.sleep(0.3)
        after = directory.get("late")
        reload.cancel()
        return before, after

    before, after = asyncio.run(scenario())
    assert before is None
    assert isinstance(after, ChannelConfig) and after.secret == "s"
    assert [r.channels for r in directory.rules()] == [("late",)]
