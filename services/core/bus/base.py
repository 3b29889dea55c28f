"""The bus interface and the delivery logic shared by every adapter.

A service publishes events to topics and subscribes handlers to topics. Handlers are plain
`async def handle(event) -> None` functions: the same handler runs under the Kafka adapter
(Faust agents) and the in-memory adapter (asyncio queues), so the embedded mode exercises the
production code.

Delivery rules, identical for every adapter:
- a message that does not parse as the topic's schema goes to `<topic>.dlq` with the reason;
- a handler raising `RetryableError` is retried with capped exponential backoff (the message is
  not acknowledged meanwhile, so nothing is lost);
- a handler raising anything else sends the message to the DLQ and the consumer carries on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from types import UnionType
from typing import Annotated, Any, Literal, Protocol, Union, get_args, get_origin

import orjson
from pydantic import PlainSerializer, TypeAdapter, ValidationError, WrapSerializer

from services.core.errors import InvalidMessage, RetryableError
from services.core.events import DeadLetter, Event
from services.core.latency import LatencyHistogram
from services.core.topics import Topic

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
BatchHandler = Callable[[Sequence[Event]], Awaitable[None]]


@dataclass(frozen=True)
class RawMessage:
    """A message as it travels: bytes, plus where it came from when the adapter knows."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None
    offset: int | None = None


def encode(event: Event) -> bytes:
    """Serialise an event for the wire."""
    return event.model_dump_json().encode()


def encode_key(event: Event) -> bytes:
    """The partition key of an event, as bytes."""
    return event.partition_key().encode()


def decode(topic: Topic, raw: RawMessage) -> Event:
    """Parse a message as the topic's schema; raises InvalidMessage with a readable reason."""
    try:
        return topic.schema.model_validate_json(raw.value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise InvalidMessage(f"not a valid {topic.schema.__name__}: {problems}") from exc


@cache
def _list_of(schema: type[Event]) -> TypeAdapter[Any]:
    return TypeAdapter(list[schema])  # type: ignore[valid-type]


def encode_batch(topic: Topic, events: Sequence[Event]) -> bytes:
    """Serialise several events of one partition as one message (a JSON array).

    The telemetry schemas are flat (strings, numbers, datetimes, str enums, dicts of strings),
    so orjson writes their fields directly, about 3x faster than pydantic and to the same JSON
    (timestamps as `...Z`); anything else, or a schema with nested models, goes through
    pydantic. Consumers decode either with `decode_all`.
    """
    if _flat(topic.schema):
        try:
            return orjson.dumps([e.__dict__ for e in events], option=_ORJSON_OPTIONS)
        except TypeError:
            pass  # a value orjson does not know: let pydantic serialise it as the model says
    return bytes(_list_of(topic.schema).dump_json(list(events)))


_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_FLAT_TYPES = (str, int, float, bool, datetime, type(None), dict[str, str], StrEnum)


@cache
def _flat(schema: type[Event]) -> bool:
    """Whether every field's type is one orjson writes exactly as pydantic does."""
    if schema.model_config.get("extra") == "allow":
        return False  # extra values live beside __dict__
    for info in schema.model_fields.values():
        if info.exclude or info.serialization_alias or info.alias:
            return False
        annotation = info.annotation
        options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
        for part in options or (annotation,):
            if get_origin(part) is Annotated:
                base, *meta = get_args(part)
                if any(isinstance(m, PlainSerializer | WrapSerializer) for m in meta):
                    return False
                part = base
            if part in _FLAT_TYPES or get_origin(part) is Literal:
                continue
            if not (isinstance(part, type) and issubclass(part, StrEnum)):
                return False
    return not schema.__pydantic_decorators__.field_serializers and not (
        schema.__pydantic_decorators__.model_serializers or schema.model_computed_fields
    )


def decode_all(topic: Topic, raw: RawMessage) -> list[Event]:
    """The events a message carries: one, or a JSON array of them on a batched topic."""
    if not (topic.batched and raw.value.lstrip()[:1] == b"["):
        return [decode(topic, raw)]
    try:
        events: list[Event] = _list_of(topic.schema).validate_json(raw.value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise InvalidMessage(f"not a valid batch of {topic.schema.__name__}: {problems}") from exc
    return events


def dead_letter_for(raw: RawMessage, reason: str) -> DeadLetter:
    """Build the DLQ record for a message, keeping the original payload readable."""
    try:
        payload = raw.value.decode()
    except UnicodeDecodeError:
        payload = "base64:" + base64.b64encode(raw.value).decode()
    key = raw.key.decode(errors="replace") if raw.key is not None else None
    return DeadLetter(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=key,
        payload=payload,
        reason=reason[:2000],
    )


@dataclass
class RetryPolicy:
    """Capped exponential backoff for transient handler failures."""

    initial_s: float = 0.2
    max_s: float = 10.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.initial_s * (2 ** min(attempt, 16))))


class _DispatchCore:
    """What both dispatchers share: counters, the retry loop, and dead-lettering."""

    def __init__(
        self,
        topic: Topic,
        dead_letter: Callable[[str, DeadLetter], Awaitable[None]],
        retry: RetryPolicy | None,
    ) -> None:
        self.topic = topic
        self.dead_letter = dead_letter
        self.retry = retry or RetryPolicy()
        self.handled = 0
        self.dead_lettered = 0
        self.retries = 0
        self.latency = LatencyHistogram()  # per handler call, read by services.core.metrics

    async def _retrying(self, call: Callable[[], Awaitable[None]], count: int) -> None:
        """Run `call` until it stops raising RetryableError (capped backoff); other errors
        propagate. On success record its latency and `count` handled events."""
        attempt = 0
        while True:
            began = time.perf_counter()
            try:
                await call()
            except RetryableError as exc:
                self.retries += 1
                delay = self.retry.delay(attempt)
                log.warning(
                    "transient failure on %s, retrying in %.1fs: %s", self.topic.name, delay, exc
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self.latency.observe(time.perf_counter() - began)
            self.handled += count
            return

    async def _to_dlq(self, raw: RawMessage, reason: str) -> None:
        self.dead_lettered += 1
        log.warning("dead-lettering message from %s: %s", raw.topic, reason)
        await self.dead_letter(f"{raw.topic}.dlq", dead_letter_for(raw, reason))


class Dispatcher(_DispatchCore):
    """Decodes one raw message, runs the handler, and routes failures (shared by adapters)."""

    def __init__(
        self,
        topic: Topic,
        handler: Handler,
        dead_letter: Callable[[str, DeadLetter], Awaitable[None]],
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(topic, dead_letter, retry)
        self.handler = handler

    async def dispatch(self, raw: RawMessage) -> None:
        """Handle one message; returns once it is done with (handled or dead-lettered).

        A batched message is handled event by event; an event whose handler fails for good is
        dead-lettered alone and the others still run.
        """
        try:
            events = decode_all(self.topic, raw)
        except InvalidMessage as exc:
            await self._to_dlq(raw, str(exc))
            return
        if len(events) == 1:
            await self._handle(raw, events[0])
            return
        for event in events:
            alone = RawMessage(
                raw.topic, encode_key(event), encode(event), raw.partition, raw.offset
            )
            await self._handle(alone, event)

    async def _handle(self, raw: RawMessage, event: Event) -> None:
        try:
            await self._retrying(lambda: self.handler(event), 1)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad message must not stop the consumer
            log.exception("handler failed on %s; sending to DLQ", self.topic.name)
            await self._to_dlq(raw, f"handler error: {type(exc).__name__}: {exc}")


class BatchDispatcher(_DispatchCore):
    """Like `Dispatcher`, for handlers that take several messages at once (one transaction).

    The batch is done with only when this returns, so an adapter acknowledges every message of
    it afterwards. If the handler fails with a non-retryable error, the messages are handled
    one by one so that only the bad one goes to the DLQ.
    """

    def __init__(
        self,
        topic: Topic,
        handler: BatchHandler,
        dead_letter: Callable[[str, DeadLetter], Awaitable[None]],
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(topic, dead_letter, retry)
        self.handler = handler

    async def dispatch(self, raws: Sequence[RawMessage]) -> None:
        """Handle a batch of messages; returns once every one of them is done with."""
        parsed: list[tuple[RawMessage, Event]] = []
        for raw in raws:
            try:
                parsed.extend((raw, event) for event in decode_all(self.topic, raw))
            except InvalidMessage as exc:
                await self._to_dlq(raw, str(exc))
        if not parsed:
            return
        try:
            await self._with_retries([event for _, event in parsed])
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - isolate the bad message instead of losing the batch
            if len(parsed) == 1:
                raw = parsed[0][0]
                log.exception("handler failed on %s; sending to DLQ", self.topic.name)
                await self._to_dlq(raw, "handler error (see logs)")
                return
            for raw, event in parsed:
                try:
                    await self._with_retries([event])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    log.exception("handler failed on %s; sending to DLQ", self.topic.name)
                    await self._to_dlq(raw, f"handler error: {type(exc).__name__}: {exc}")
            return

    async def _with_retries(self, events: list[Event]) -> None:
        await self._retrying(lambda: self.handler(events), len(events))


class StateStore(Protocol):
    """Durable key/value state owned by a consumer, partitioned like one of its input topics."""

    def get(self, key: str) -> bytes | None:
        """The stored value, or None."""
        ...

    def put(self, key: str, value: bytes) -> None:
        """Store a value; it becomes durable soon, or at the latest on `flush()`."""
        ...

    async def flush(self) -> None:
        """Wait until every value put so far is durable."""
        ...


class DictStateStore:
    """State kept in a dict: the in-memory bus's store, and a fake for tests."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = value

    async def flush(self) -> None:
        return None


class Bus(ABC):
    """Publish events to topics and run handlers on what arrives."""

    @abstractmethod
    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        """Send events; returns only once the bus has durably accepted all of them."""

    async def publish_keyed(
        self, topic: Topic, events: Sequence[Event], keys: Sequence[str]
    ) -> None:
        """`publish`, for a caller that already computed each event's `partition_key()`."""
        del keys  # adapters that hash keys themselves may use them; the rest recompute
        await self.publish(topic, events)

    @abstractmethod
    async def publish_records(self, records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        """Send (topic name, key, value) records as they are; returns once all are accepted."""

    async def publish_raw(self, topic_name: str, key: bytes | None, value: bytes) -> None:
        """Send one message as it is (dead letters, tools, tests of bad input)."""
        await self.publish_records([(topic_name, key, value)])

    @abstractmethod
    def subscribe(self, topic: Topic, handler: Handler, *, group: str) -> None:
        """Run `handler` for every message of `topic` delivered to consumer group `group`."""

    def subscribe_batch(
        self,
        topic: Topic,
        handler: BatchHandler,
        *,
        group: str,
        max_batch: int = 500,
        max_wait_s: float = 0.05,
    ) -> None:
        """Run `handler` on batches of up to `max_batch` messages of `topic`.

        Messages are acknowledged only after the handler returned for their batch. This default
        hands over one message at a time; adapters override it to batch for real.
        """
        del max_batch, max_wait_s

        async def one(event: Event) -> None:
            await handler([event])

        self.subscribe(topic, one, group=group)

    @abstractmethod
    def state_store(self, name: str, *, partitioned_like: Topic) -> StateStore:
        """A named state store, restored on restart and when partitions move between workers.

        Keys must be the partition keys of `partitioned_like`'s events, and the store may only
        be used from handlers subscribed to that topic.
        """

    @abstractmethod
    async def start(self) -> None:
        """Connect and start consuming."""

    @abstractmethod
    async def stop(self) -> None:
        """Finish in-flight work, commit progress, disconnect."""

    def ready(self) -> bool:
        """Whether the bus is connected and able to accept messages."""
        return True

    def consumers(self) -> list[tuple[str, Dispatcher | BatchDispatcher]]:
        """(consumer group, dispatcher) of every subscription, for metrics."""
        return []

    def consumer_lag(self) -> dict[tuple[str, str], int]:
        """Messages not yet consumed, by (topic, consumer group), for metrics."""
        return {}

    def on_partitions_revoked(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever this consumer loses partitions (before others take them).

        Consumers keeping per-key state in memory drop it there and reload it from their
        state store, which the new owner keeps current. The in-memory bus never rebalances.
        """
        del callback  # nothing moves on a single-process bus

    async def send_dead_letter(self, dlq_topic: str, letter: DeadLetter) -> None:
        """Publish a dead letter to `<topic>.dlq`."""
        await self.publish_raw(
            dlq_topic,
            letter.key.encode() if letter.key else None,
            letter.model_dump_json().encode(),
        )
