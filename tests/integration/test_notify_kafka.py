"""The notification pipeline on real Kafka: delivered once each, through an outage and a
worker restart (the delivery ledger is restored from its changelog, so a redelivered
notification is not sent again)."""

from __future__ import annotations

import asyncio
import json

from services.core.bus.kafka import KafkaBus
from services.core.events import Notification
from services.core.topics import NOTIFICATIONS, NOTIFICATIONS_RESULTS
from services.remediate.notify.base import ChannelConfig
from services.remediate.notify.http import Outbound
from services.remediate.notify.pipeline import NotificationWorker
from services.remediate.notify.registry import StaticChannels
from services.remediate.notify.retry import RetryPolicy
from tests.integration.kafka_tools import read_all
from tests.unit.test_notify_support import LOOPBACK_POLICY, Received, Receiver, Reply

GROUP = "notify-test"
EVENTS = ("opened", "acknowledged", "resolved")


def _notifications() -> list[Notification]:
    return [
        Notification(
            id=f"inc-{i}-{event}",
            channel="hook",
            incident_id=f"inc-{i}",
            event_type=event,
            payload={"title": f"incident {i}", "service": f"svc-{i}", "severity": "error"},
        )
        for event in EVENTS
        for i in range(5)
    ]


async def _run_worker(
    bootstrap: str, prefix: str, receiver: Receiver, until: int, publish: list[Notification]
) -> None:
    """Start a worker, publish, wait until the receiver accepted `until` messages, stop."""
    bus = KafkaBus([bootstrap], client_id="notify-worker", topic_prefix=prefix, group=GROUP)
    outbound = Outbound(LOOPBACK_POLICY)
    channel = ChannelConfig("hook", "webhook", url=receiver.url, secret="s3cret")
    retry = RetryPolicy(max_attempts=500, base_s=0.05, max_delay_s=0.2)
    worker = NotificationWorker(bus, StaticChannels([channel]), outbound, retry=retry)
    worker.attach(group=GROUP)
    producer = KafkaBus([bootstrap], client_id="notify-producer", topic_prefix=prefix)
    await producer.start()
    await bus.start()
    try:
        await producer.publish(NOTIFICATIONS, publish)
        async with asyncio.timeout(120):
            while len(receiver.accepted) < until:
                await asyncio.sleep(0.2)
            # Results are published after the ledger is flushed: wait for all of them.
            while sum(d.handled for d in bus.dispatchers) < len(publish):
                await asyncio.sleep(0.2)
    finally:
        await bus.stop()
        await producer.stop()
        await outbound.aclose()


def test_outage_and_restart_deliver_each_notification_exactly_once(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    failing = {"left": 8}

    def flaky(_request: Received) -> Reply:
        if failing["left"] > 0:
            failing["left"] -= 1
            return Reply(503, b"down")
        return Reply(200, b"ok")

    sent = _notifications()
    with Receiver(flaky) as receiver:
        asyncio.run(_run_worker(kafka_bootstrap, topic_prefix, receiver, len(sent), sent))
        # A restarted worker sees every notification again (e.g. an outbox relay replay).
        asyncio.run(_run_worker(kafka_bootstrap, topic_prefix, receiver, len(sent), sent))

    delivered = [r.headers["X-Vigil-Delivery"] for r in receiver.accepted]
    assert sorted(delivered) == sorted(n.id for n in sent)
    for i in range(5):
        assert [d for d in delivered if d.startswith(f"inc-{i}-")] == [
            f"inc-{i}-{e}" for e in EVENTS
        ]
    assert len(receiver.received) == len(sent) + 8
    results = [
        json.loads(m.value)
        for m in read_all(kafka_bootstrap, f"{topic_prefix}{NOTIFICATIONS_RESULTS.name}")
    ]
    assert {r["status"] for r in results} == {"delivered"}
    assert {r["notification_id"] for r in results} == {n.id for n in sent}
    assert read_all(kafka_bootstrap, f"{topic_prefix}{NOTIFICATIONS.dlq}") == []
