"""The delivery pipeline over the in-memory bus, against local receivers.

Idempotency (a redelivered notification is not sent again), dead letters, results, threads,
counters, and the outage test: a receiver that fails and then refuses connections for a while
gets every message once it recovers, none lost, none duplicated, in order per incident.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from typing import Any

from services.core.bus import InMemoryBus
from services.core.events import Notification
from services.core.topics import NOTIFICATIONS, NOTIFICATIONS_RESULTS
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
)
from services.remediate.notify.http import Outbound
from services.remediate.notify.pipeline import NotificationWorker
from services.remediate.notify.registry import StaticChannels
from services.remediate.notify.retry import RetryPolicy
from services.remediate.notify.signing import verify_webhook
from tests.unit.test_notify_support import (
    LOOPBACK_POLICY,
    Received,
    Receiver,
    Reply,
    outbound_client,
)

FAST = RetryPolicy(max_attempts=200, base_s=0.01, max_delay_s=0.05)


def _notification(
    incident: str, event_type: str, channel: str = "hook", n: int = 0
) -> Notification:
    return Notification(
        id=f"{incident}-{event_type}-{n}",
        channel=channel,
        incident_id=incident,
        event_type=event_type,
        payload={"title": f"{incident} is slow", "service": "api", "severity": "error"},
    )


class Harness:
    """An in-memory bus with the notification worker attached."""

    def __init__(self, channels: list[ChannelConfig], retry: RetryPolicy = FAST) -> None:
        self.bus = InMemoryBus()
        self.outbound = Outbound(LOOPBACK_POLICY, client=outbound_client())
        self.worker = NotificationWorker(
            self.bus, StaticChannels(channels), self.outbound, retry=retry, rng=random.Random(3)
        )
        self.worker.attach(group="notify")

    async def __aenter__(self) -> Harness:
        await self.bus.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.bus.drain(timeout=30)
        await self.bus.stop()
        await self.outbound.aclose()

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(m.value) for m in self.bus.recent(NOTIFICATIONS_RESULTS.name)]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(m.value) for m in self.bus.recent(NOTIFICATIONS.dlq)]


def test_a_redelivered_notification_is_not_sent_again() -> None:
    async def scenario(receiver: Receiver) -> Harness:
        channel = ChannelConfig("hook", "webhook", url=receiver.url, secret="s")
        async with Harness([channel]) as h:
            first = _notification("inc-1", "opened")
            await h.bus.publish(NOTIFICATIONS, [first])
            await h.bus.drain()
            await h.bus.publish(NOTIFICATIONS, [first])  # e.g. after a consumer restart
        return h

    with Receiver() as receiver:
        h = asyncio.run(scenario(receiver))
    assert [r.headers["X-Vigil-Delivery"] for r in receiver.received] == ["inc-1-opened-0"]
    results = h.results()
    assert len(results) == 2 and results[0] == results[1]  # same id: consumers dedupe
    assert results[0]["status"] == "delivered"
    assert results[0]["notification_id"] == "inc-1-opened-0"
    assert results[0]["provider_ref"] == "inc-1-opened-0"
    assert h.worker.counters["hook"].sent == 1
    assert h.worker.counters["hook"].duplicates == 1


def test_permanent_failure_is_dead_lettered_with_the_reason_and_reported() -> None:
    async def scenario(receiver: Receiver) -> Harness:
        channels = [ChannelConfig("hook", "webhook", url=receiver.url, secret="s")]
        async with Harness(channels) as h:
            await h.bus.publish(
                NOTIFICATIONS,
                [_notification("inc-1", "opened"), _notification("inc-2", "opened", "nowhere")],
            )
        return h

    with Receiver(lambda _r: Reply(410, b"gone")) as receiver:
        h = asyncio.run(scenario(receiver))
    assert len(receiver.received) == 1  # a 410 is not retried
    letters = h.dead_letters()
    assert [json.loads(d["payload"])["id"] for d in letters] == ["inc-1-opened-0", "inc-2-opened-0"]
    assert letters[0]["reason"] == "delivery failed after 1 attempts: HTTP 410: gone"
    assert letters[0]["topic"] == "notifications" and letters[0]["key"] == "inc-1"
    assert "unknown channel 'nowhere'" in letters[1]["reason"]
    assert [(r["status"], r["attempts"]) for r in h.results()] == [("failed", 1), ("failed", 0)]
    assert h.worker.counters["hook"].failed == 1


def test_slack_updates_reply_in_the_thread_of_the_incidents_first_message() -> None:
    counter = iter(range(100, 200))
    lock = threading.Lock()

    def slack(_request: Received) -> Reply:
        with lock:
            ts = f"1700000000.000{next(counter)}"
        return Reply.json(200, {"ok": True, "ts": ts})

    async def scenario(receiver: Receiver) -> Harness:
        channel = ChannelConfig(
            "slack", "slack_bot", url=receiver.url, secret="xoxb", options={"channel": "C1"}
        )
        async with Harness([channel]) as h:
            await h.bus.publish(
                NOTIFICATIONS,
                [
                    _notification("inc-1", "opened", "slack"),
                    _notification("inc-2", "opened", "slack"),
                    _notification("inc-1", "acknowledged", "slack"),
                    _notification("inc-1", "resolved", "slack"),
                    _notification("inc-2", "resolved", "slack"),
                ],
            )
        return h

    with Receiver(slack) as receiver:
        h = asyncio.run(scenario(receiver))
    threads = [r.json().get("thread_ts") for r in receiver.received]
    assert threads == [None, None, "1700000000.000100", "1700000000.000100", "1700000000.000101"]
    refs = [r["provider_ref"] for r in h.results()]
    assert refs == [f"1700000000.000{n}" for n in range(100, 105)]


def test_receiver_outage_loses_and_duplicates_nothing_and_keeps_order() -> None:
    state = {"phase": "failing"}
    answered: list[int] = []

    def flaky(_request: Received) -> Reply:
        reply = Reply(204, b"")
        if state["phase"] == "failing":
            reply = Reply(503, b"maintenance")
        elif state["phase"] == "throttling":
            state["phase"] = "up"
            reply = Reply(429, b"slow down", {"Retry-After": "0"})
        answered.append(reply.status)
        return reply

    receiver = Receiver(flaky).start()
    events = ["opened", "acknowledged", "resolved"]
    sent = [_notification(f"inc-{i}", e) for e in events for i in range(4)]

    async def outage() -> None:
        await asyncio.sleep(0.4)
        receiver.stop()  # now connections are refused
        await asyncio.sleep(0.6)
        state["phase"] = "throttling"
        receiver.start()

    async def scenario() -> Harness:
        channel = ChannelConfig("hook", "webhook", url=receiver.url, secret="s3cret")
        async with Harness([channel]) as h:
            chaos = asyncio.create_task(outage())
            await h.bus.publish(NOTIFICATIONS, sent)
            await chaos
            await h.bus.drain(timeout=30)
        return h

    started = time.monotonic()
    try:
        h = asyncio.run(scenario())
    finally:
        receiver.stop()
    assert time.monotonic() - started >= 1.0
    assert 503 in answered and 429 in answered  # it really failed, then throttled
    delivered = [r.headers["X-Vigil-Delivery"] for r in receiver.accepted]
    assert sorted(delivered) == sorted(n.id for n in sent)  # every one, exactly once
    for i in range(4):
        mine = [d for d in delivered if d.startswith(f"inc-{i}-")]
        assert mine == [f"inc-{i}-{e}-0" for e in events]  # in order per incident
    for request in receiver.accepted:
        now = int(request.headers["X-Vigil-Timestamp"])
        assert verify_webhook("s3cret", request.headers, request.body, now=now)
    assert {r["status"] for r in h.results()} == {"delivered"}
    assert h.dead_letters() == []
    counters = h.worker.counters["hook"]
    assert counters.sent == 12 and counters.failed == 0 and counters.retried > 0


def test_a_notifier_bug_fails_that_message_only() -> None:
    class Broken(Notifier):
        kind = "broken"

        async def notify(
            self, message: NotificationMessage, ctx: DeliveryContext
        ) -> DeliveryOutcome:
            raise KeyError("oops")

    async def scenario() -> Harness:
        h = Harness([ChannelConfig("hook", "webhook", url="http://127.0.0.1:1", secret="s")])
        h.worker.notifier_factory = lambda channel, _outbound: Broken(channel)
        async with h:
            await h.bus.publish(NOTIFICATIONS, [_notification("inc-1", "opened")])
        return h

    h = asyncio.run(scenario())
    assert [(r["status"], r["detail"]) for r in h.results()] == [
        ("failed", "notifier error: KeyError")
    ]
    assert len(h.dead_letters()) == 1
