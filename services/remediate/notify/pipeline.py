"""The delivery pipeline: `notifications` -> dedup -> notify with retries -> record -> result.

Runs in the remediate worker process (one outbound pipeline for actions and messages).
Per notification, in order:

1. dedup: a ledger in a bus state store, keyed by incident (the topic's partition key), says
   whether this notification id was already handled; if so its result is published again
   (idempotent id) and nothing is sent;
2. deliver: the channel's Notifier, retried with backoff and jitter while the outcome is
   retryable (`retry.py`); the incident's first provider reference on the channel (Slack `ts`,
   e-mail Message-ID) is passed to later messages so they thread;
3. record: the outcome goes into the ledger and is flushed (durable) before the result is
   published to `notifications.results`; failures are also dead-lettered to
   `notifications.dlq` with the reason.

Messages of one incident share a partition and are handled one at a time, so they arrive in
order, even across a receiver outage. A crash between sending and flushing the ledger means
one duplicate on redelivery; receivers deduplicate on the notification id (our webhook's
`X-Vigil-Delivery`), and PagerDuty/Opsgenie on the incident's dedup key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from pydantic import ValidationError

from services.core.bus import Bus
from services.core.events import DeadLetter, Event, Notification, NotificationResult, stable_id
from services.core.topics import NOTIFICATIONS, NOTIFICATIONS_RESULTS
from services.remediate.notify.base import (
    ChannelConfig,
    DeliveryContext,
    DeliveryOutcome,
    NotificationMessage,
    Notifier,
    NotifyError,
)
from services.remediate.notify.http import Outbound
from services.remediate.notify.registry import ChannelDirectory, build_notifier
from services.remediate.notify.retry import Clock, RetryPolicy, Sleeper, deliver_with_retries

log = logging.getLogger(__name__)

LEDGER_STORE = "notify-ledger"
LEDGER_KEEP = 500  # notification ids remembered per incident


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ChannelCounters:
    """Per-channel delivery counts, for the metrics exporter."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    duplicates: int = 0


@dataclass
class _Ledger:
    """What one incident's notifications came to: outcomes by id, thread refs by channel."""

    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: bytes | None) -> _Ledger:
        if raw is None:
            return cls()
        data = json.loads(raw)
        return cls(done=dict(data.get("done", {})), threads=dict(data.get("threads", {})))

    def dump(self) -> bytes:
        while len(self.done) > LEDGER_KEEP:
            del self.done[next(iter(self.done))]
        return json.dumps({"done": self.done, "threads": self.threads}).encode()


class NotificationWorker:
    """Bus handler for `notifications`; construct before `bus.start()`."""

    def __init__(
        self,
        bus: Bus,
        channels: ChannelDirectory,
        outbound: Outbound,
        *,
        retry: RetryPolicy | None = None,
        sleep: Sleeper = asyncio.sleep,
        clock: Clock = _utcnow,
        rng: random.Random | None = None,
        notifier_factory: Callable[[ChannelConfig, Outbound], Notifier] = build_notifier,
    ) -> None:
        self.bus = bus
        self.channels = channels
        self.outbound = outbound
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.notifier_factory = notifier_factory
        self.ledger = bus.state_store(LEDGER_STORE, partitioned_like=NOTIFICATIONS)
        self.counters: dict[str, ChannelCounters] = defaultdict(ChannelCounters)
        self._notifiers: dict[str, tuple[ChannelConfig, Notifier]] = {}

    async def aclose(self) -> None:
        """Release the HTTP connections (after the bus stopped)."""
        await self.outbound.aclose()

    def attach(self, *, group: str) -> None:
        """Subscribe to notifications."""
        self.bus.subscribe(NOTIFICATIONS, self.handle, group=group)

    async def handle(self, event: Event) -> None:
        """Deliver one notification at most once per id, and report the outcome."""
        notification = cast(Notification, event)
        ledger = _Ledger.load(self.ledger.get(notification.incident_id))
        previous = ledger.done.get(notification.id)
        if previous is not None:
            self.counters[notification.channel].duplicates += 1
            await self._publish_result(notification, previous)
            return
        record = await self._deliver(notification, ledger)
        ledger.done[notification.id] = record
        self.ledger.put(notification.incident_id, ledger.dump())
        await self.ledger.flush()
        await self._publish_result(notification, record)

    async def _deliver(self, notification: Notification, ledger: _Ledger) -> dict[str, Any]:
        counters = self.counters[notification.channel]
        try:
            message = NotificationMessage.from_notification(notification)
            notifier = self._notifier(notification.channel)
        except (ValidationError, NotifyError) as exc:
            reason = str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc)
            return await self._fail(notification, f"not deliverable: {reason}", 0)
        ctx = DeliveryContext(
            notification_id=notification.id,
            channel=notification.channel,
            now=self.clock(),
            thread_ref=ledger.threads.get(notification.channel, ""),
        )

        async def send() -> DeliveryOutcome:
            try:
                return await notifier.notify(message, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a notifier bug fails this message only
                log.exception("notifier %s failed on %s", notifier.kind, notification.id)
                return DeliveryOutcome.permanent(f"notifier error: {type(exc).__name__}")

        result = await deliver_with_retries(send, self.retry, sleep=self.sleep, rng=self.rng)
        counters.retried += result.retries
        if not result.outcome.ok:
            return await self._fail(notification, result.outcome.error, result.attempts)
        counters.sent += 1
        ref = result.outcome.provider_ref
        if ref and not message.digest and notification.channel not in ledger.threads:
            ledger.threads[notification.channel] = ref
        return {"status": "delivered", "attempts": result.attempts, "ref": ref, "detail": ""}

    async def _fail(self, notification: Notification, reason: str, attempts: int) -> dict[str, Any]:
        self.counters[notification.channel].failed += 1
        log.warning(
            "notification %s to %s failed after %d attempts: %s",
            notification.id,
            notification.channel,
            attempts,
            reason,
        )
        letter = DeadLetter(
            topic=NOTIFICATIONS.name,
            key=notification.partition_key(),
            payload=notification.model_dump_json(),
            reason=f"delivery failed after {attempts} attempts: {reason}"[:2000],
        )
        await self.bus.send_dead_letter(NOTIFICATIONS.dlq, letter)
        return {"status": "failed", "attempts": attempts, "ref": "", "detail": reason[:2000]}

    def _notifier(self, name: str) -> Notifier:
        config = self.channels.get(name)
        if config is None:
            raise NotifyError(f"unknown channel {name!r}")
        cached = self._notifiers.get(name)
        if cached is not None and cached[0] == config:
            return cached[1]
        notifier = self.notifier_factory(config, self.outbound)
        self._notifiers[name] = (config, notifier)
        return notifier

    async def _publish_result(self, notification: Notification, record: dict[str, Any]) -> None:
        status = cast(Literal["delivered", "failed"], record["status"])
        result = NotificationResult(
            id=stable_id("notification-result", notification.id),
            notification_id=notification.id,
            channel=notification.channel,
            incident_id=notification.incident_id,
            status=status,
            attempts=int(record["attempts"]),
            detail=str(record["detail"]),
            provider_ref=str(record["ref"]),
        )
        await self.bus.publish(NOTIFICATIONS_RESULTS, [result])
