"""Kafka adapter: kafka-python for producing, a faust-streaming app for consuming.

Producing: one idempotent kafka-python producer (acks=all); `publish` returns only after the
broker acknowledged every message, so callers (ingest, consumers that emit) can acknowledge
their own input safely.

Batched topics (high-volume telemetry, `Topic.batched`): when `batch_max_events` > 1, the
events of one `publish` are grouped by the partition their key hashes to (murmur2, exactly as
the default partitioner would) and sent as JSON arrays, one message per group and chunk. Every
event of a series still lands on the series' partition; consumers see one event at a time.

Consuming: each subscription becomes a Faust agent. Faust acknowledges a message when the
agent moves on to the next one and commits acknowledged offsets periodically, so a message is
committed only after its handler finished: a crash replays, never skips (at-least-once).
Handlers make replays harmless with idempotent writes keyed by event id. Faust alone can skip
messages around a rebalance; `_OrderedDelivery` (rules in order.py) hands each partition's
messages to the agent in offset order, reads a partition again when one went missing, and
lets Faust acknowledge only what was handled.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.core.bus.base import (
    BatchDispatcher,
    BatchHandler,
    Bus,
    Dispatcher,
    Handler,
    RawMessage,
    StateStore,
    encode,
    encode_batch,
)
from services.core.bus.order import OffsetGuard, Verdict
from services.core.bus.partitioning import KeyPartitioner
from services.core.bus.stall import RecoveryWatch, StallWatch
from services.core.errors import ConfigurationError, RetryableError
from services.core.events import Event
from services.core.topics import ALL_TOPICS, Topic

log = logging.getLogger(__name__)

_MAX_KNOWN_KEYS = 200_000  # partitions of keys remembered per batched topic
# A handler call running this long is waiting on purpose (retrying a dependency that is down).
BLOCKED_CALL_S = 5.0

# (topic, key, value, partition or None for the default partitioner)
_Record = tuple[str, bytes | None, bytes, int | None]


@dataclass
class _Subscription:
    topic: Topic
    dispatcher: Dispatcher | BatchDispatcher
    max_batch: int = 1
    max_wait_s: float = 0.0


def ensure_topics(
    servers: list[str],
    topics: Sequence[Topic] = ALL_TOPICS,
    *,
    replication: int = 1,
    prefix: str = "",
) -> list[str]:
    """Create missing topics (and their DLQs) with the registry's partition counts.

    Returns the names created. Existing topics are left alone, so this is safe at every start.
    `prefix` namespaces every topic, so several Vigil installations can share one cluster.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=servers, client_id="vigil-admin")
    try:
        existing = set(admin.list_topics())
        wanted: list[Any] = []
        for topic in topics:
            config = {"cleanup.policy": "compact"} if topic.compacted else {}
            name, dlq = prefix + topic.name, prefix + topic.dlq
            if name not in existing:
                wanted.append(NewTopic(name, topic.partitions, replication, topic_configs=config))
            if dlq not in existing:
                wanted.append(NewTopic(dlq, 1, replication))
        created = []
        for new in wanted:
            try:
                admin.create_topics([new])
                created.append(new.name)
            except TopicAlreadyExistsError:
                pass  # another service created it meanwhile
        return created
    finally:
        admin.close()


class KafkaBus(Bus):
    """The production bus."""

    def __init__(
        self,
        servers: list[str],
        *,
        client_id: str,
        group: str | None = None,
        compression: str | None = "gzip",
        linger_ms: int = 5,
        commit_interval_s: float = 1.0,
        create_topics: bool = True,
        topic_prefix: str = "",
        batch_max_events: int = 1,
        batch_max_bytes: int = 512 * 1024,
        stall_after_s: float = 30.0,
        recovery_stuck_after_s: float = 60.0,
    ) -> None:
        self._servers = servers
        self._batch_max_events = max(1, batch_max_events)
        self._batch_max_bytes = batch_max_bytes
        self._partitioner = KeyPartitioner()
        self._partition_counts: dict[str, int] = {}
        self._partitions_of: dict[str, dict[str, int]] = {}
        self._client_id = client_id
        self._group = group
        self._compression = compression
        self._linger_ms = linger_ms
        self._commit_interval_s = commit_interval_s
        self._create_topics = create_topics
        self._prefix = topic_prefix
        self._subs: list[_Subscription] = []
        self._producer: Any = None
        self._app: Any = None
        self.dispatchers: list[Dispatcher | BatchDispatcher] = []
        self._stores: list[_FaustTableStore] = []
        self._reachable = False
        self._probe: asyncio.Task[None] | None = None
        self._revoked_callbacks: list[Callable[[], None]] = []
        self.assigned: set[Any] = set()
        # When each agent's current handler call began (None while it waits for messages).
        self._calls: dict[str, float | None] = {}
        self._stall_watch: StallWatch[Any] = StallWatch(stall_after_s)
        self._stall_task: asyncio.Task[None] | None = None
        self._delivery: _OrderedDelivery | None = None
        self._recovery_watch = RecoveryWatch(recovery_stuck_after_s)

    # -- producing ---------------------------------------------------------------------------

    def _make_producer(self) -> Any:
        from kafka import KafkaProducer

        return KafkaProducer(
            bootstrap_servers=self._servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            compression_type=self._compression,
            linger_ms=self._linger_ms,
            batch_size=256 * 1024,
            max_in_flight_requests_per_connection=5,
            retries=2**31 - 1,
            delivery_timeout_ms=120_000,
            request_timeout_ms=30_000,
        )

    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        await self.publish_keyed(topic, events, [e.partition_key() for e in events])

    async def publish_keyed(
        self, topic: Topic, events: Sequence[Event], keys: Sequence[str]
    ) -> None:
        if not events:
            return
        name = self._prefix + topic.name
        if topic.batched and self._batch_max_events > 1 and len(events) > 1:
            await self._send(await self._batched(topic, name, events, keys))
        else:
            records = [
                (name, k.encode(), encode(e), None) for e, k in zip(events, keys, strict=True)
            ]
            await self._send(records)

    async def publish_records(self, records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
        if records:
            await self._send(
                [(self._prefix + topic, key, value, None) for topic, key, value in records]
            )

    async def _batched(
        self, topic: Topic, name: str, events: Sequence[Event], keys: Sequence[str]
    ) -> list[_Record]:
        """One message per partition and chunk; the key is the first event's key."""
        partitions = self._partition_counts.get(name)
        if partitions is None:
            partitions = await self._count_partitions(name)
        # key -> partition, per topic: series keys repeat at every scrape (bounded)
        known = self._partitions_of.setdefault(name, {})
        groups: dict[int, tuple[str, list[Event]]] = {}
        for event, text in zip(events, keys, strict=True):
            partition = known.get(text)
            if partition is None:
                partition = self._partitioner.partition(text.encode(), partitions)
                if len(known) >= _MAX_KNOWN_KEYS:
                    known.clear()
                known[text] = partition
            group = groups.get(partition)
            if group is None:
                groups[partition] = (text, [event])
            else:
                group[1].append(event)
        records: list[_Record] = []
        step = self._batch_max_events
        for partition, (text, members) in groups.items():
            key = text.encode()
            for i in range(0, len(members), step):
                for value in self._encode_chunks(topic, members[i : i + step]):
                    records.append((name, key, value, partition))
        return records

    def _encode_chunks(self, topic: Topic, events: Sequence[Event]) -> list[bytes]:
        """Encode events as one array, halving the chunk while it is over the byte limit."""
        if len(events) == 1:
            return [encode(events[0])]
        value = encode_batch(topic, events)
        if len(value) <= self._batch_max_bytes:
            return [value]
        half = len(events) // 2
        return self._encode_chunks(topic, events[:half]) + self._encode_chunks(topic, events[half:])

    async def _count_partitions(self, name: str) -> int:
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() must be called before publishing")
        producer = self._producer
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(None, producer.partitions_for, name)
        except Exception as exc:
            raise RetryableError(f"kafka metadata for {name}: {type(exc).__name__}: {exc}") from exc
        if not found:
            raise RetryableError(f"kafka has no partitions for {name} yet")
        # Partitions are numbered 0..n-1; the count is fixed for the life of the process.
        self._partition_counts[name] = len(found)
        return len(found)

    def _metadata_known(self, records: Sequence[_Record]) -> bool:
        """Whether `producer.send` will not block for any of `records`.

        kafka-python's send blocks (up to max_block_ms) only to fetch metadata of a topic it
        does not know yet; otherwise it appends to its accumulator (which has no memory pool
        to wait for: the ingest budget bounds what is in flight) and returns. Sending on the
        event loop then saves a thread-pool hop per publish. The metadata lookup is
        kafka-python's own, not public API: without it, every send takes the thread pool.
        """
        metadata = getattr(self._producer, "_metadata", None)
        lookup = getattr(metadata, "partitions_for_topic", None)
        if lookup is None:
            return False
        seen: set[str] = set()
        for topic, _, _, _ in records:
            if topic not in seen:
                if not lookup(topic):
                    return False
                seen.add(topic)
        return True

    async def _send(self, records: Sequence[_Record]) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() must be called before publishing")
        loop = asyncio.get_running_loop()
        producer = self._producer

        acks = _Acks(loop, len(records))

        def send_all() -> None:
            try:
                for topic, key, value, partition in records:
                    sent = producer.send(topic, key=key, value=value, partition=partition)
                    sent.add_callback(acks.ok)
                    sent.add_errback(acks.failed)
            except BaseException:
                acks.abandon()
                raise

        try:
            if self._metadata_known(records):
                send_all()  # appends to the accumulator: no I/O, nothing to wait for
            else:
                await loop.run_in_executor(None, send_all)
            await acks.future
        except RetryableError:
            raise
        except Exception as exc:
            # Broker unreachable, timeouts, buffer full: the caller may try again later.
            raise RetryableError(f"kafka publish failed: {type(exc).__name__}: {exc}") from exc

    # -- consuming ---------------------------------------------------------------------------

    def subscribe(self, topic: Topic, handler: Handler, *, group: str) -> None:
        self._check_group(group)
        dispatcher = Dispatcher(topic, handler, self.send_dead_letter)
        self._subs.append(_Subscription(topic, dispatcher))
        self.dispatchers.append(dispatcher)

    def subscribe_batch(
        self,
        topic: Topic,
        handler: BatchHandler,
        *,
        group: str,
        max_batch: int = 500,
        max_wait_s: float = 0.05,
    ) -> None:
        self._check_group(group)
        dispatcher = BatchDispatcher(topic, handler, self.send_dead_letter)
        self._subs.append(_Subscription(topic, dispatcher, max(1, max_batch), max_wait_s))
        self.dispatchers.append(dispatcher)

    def _check_group(self, group: str) -> None:
        if self._group is None:
            self._group = group
        if group != self._group:
            raise ConfigurationError(
                f"one KafkaBus serves one consumer group ({self._group!r}), not {group!r}"
            )
        if self._app is not None:
            raise ConfigurationError("subscribe before start()")

    def state_store(self, name: str, *, partitioned_like: Topic) -> StateStore:
        if self._app is not None:
            raise ConfigurationError("declare state stores before start()")
        store = _FaustTableStore(name, partitioned_like.partitions)
        self._stores.append(store)
        return store

    def _make_app(self) -> Any:
        import faust

        if self._group is None:
            raise ConfigurationError("a consuming KafkaBus needs a consumer group")
        # Faust creates a data directory even for in-memory tables; keep it out of the working
        # directory (one per group and topic prefix). Faust makes only the last level.
        datadir = Path(tempfile.gettempdir()) / "vigil-faust" / (self._prefix + self._group)
        datadir.parent.mkdir(parents=True, exist_ok=True)
        app: Any = faust.App(
            self._prefix + self._group,
            broker=[f"kafka://{s}" for s in self._servers],
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            store="memory://",
            datadir=str(datadir),
            autodiscover=False,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=self._commit_interval_s,
            stream_wait_empty=False,
            topic_replication_factor=1,
            # Promoting a standby replica after a worker died hung recovery in our tests;
            # a full recovery of the (compacted, small) changelog on takeover did not.
            table_standby_replicas=0,
            # Notice a dead worker within seconds, so its partitions move quickly.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=2.0,
        )
        for store in self._stores:
            store.bind(app)
        _drain_fully_on_flush(app.producer.buffer)
        ordered = {self._prefix + sub.topic.name for sub in self._subs if not sub.topic.compacted}
        delivery = _OrderedDelivery(app, self._servers, self._prefix + self._group, ordered)
        self._delivery = delivery

        async def revoked(_sender: Any, revoked: Any, **_: Any) -> None:
            delivery.revoke()
            if revoked:
                log.info("partitions revoked: %s", _describe(revoked))
                for callback in self._revoked_callbacks:
                    callback()

        async def assigned(_sender: Any, assigned: Any, **_: Any) -> None:
            self.assigned = set(assigned)
            log.info("partitions assigned: %s", _describe(assigned))

        app.on_partitions_revoked.connect(revoked)
        app.on_partitions_assigned.connect(assigned)
        for sub in self._subs:
            channel = app.topic(self._prefix + sub.topic.name, key_type=bytes, value_type=bytes)
            if isinstance(sub.dispatcher, BatchDispatcher):
                agent = _batch_agent_for(
                    sub.dispatcher,
                    sub.topic.name,
                    sub.max_batch,
                    sub.max_wait_s,
                    self._calls,
                    delivery,
                )
            else:
                agent = _agent_for(sub.dispatcher, sub.topic.name, self._calls, delivery)
            app.agent(channel, name=f"{self._prefix}{self._group}.{sub.topic.name}")(agent)
        return app

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self._create_topics:
                created = await loop.run_in_executor(
                    None, lambda: ensure_topics(self._servers, prefix=self._prefix)
                )
                if created:
                    log.info("created topics: %s", ", ".join(created))
            if self._producer is None:  # kept from an earlier attempt that failed later
                self._producer = await loop.run_in_executor(None, self._make_producer)
        except Exception as exc:
            raise RetryableError(
                f"cannot reach Kafka at {','.join(self._servers)}: {type(exc).__name__}: {exc}"
            ) from exc
        if self._subs:
            await self._start_app()
            self._stall_task = asyncio.create_task(self._watch_stalls(), name="kafka-stalls")
        self._reachable = True
        self._probe = asyncio.create_task(self._probe_broker(), name="kafka-probe")

    async def _start_app(self) -> None:
        """Start the Faust app; a Kafka failure on the way is retryable with a fresh app.

        The broker can go away while Faust starts (a restarting KRaft broker refuses to create
        the changelog topics while it is fenced). Faust then fails half-started: it is stopped
        and dropped, and the caller retries `start()`, which builds a new app.
        """
        from aiokafka.errors import KafkaError

        app = self._make_app()
        self._app = app
        try:
            await app.start()
        except (KafkaError, OSError, TimeoutError) as exc:
            self._app = None
            try:
                await asyncio.wait_for(app.stop(), timeout=30)
            except Exception:  # noqa: BLE001 - a half-started app may fail to stop; it is dropped
                log.debug("stopping a half-started Faust app failed", exc_info=True)
            raise RetryableError(
                f"Kafka consumer could not start: {type(exc).__name__}: {exc}"
            ) from exc

    async def _watch_stalls(self) -> None:
        """Read a partition again from its committed offset when its commit is stuck.

        See services/core/bus/stall.py for why and when. Each round also repeats the seeks of
        the ordered delivery that have not brought a missing message yet (order.py), and
        restarts the Faust app if its table recovery is stuck (`RecoveryWatch`).
        """
        interval = max(0.5, min(1.0, self._stall_watch.stall_after_s / 3))
        topics = {self._prefix + sub.topic.name for sub in self._subs}
        while True:
            await asyncio.sleep(interval)
            try:
                if self._consumer_wedged():
                    await self._restart_app()
                    continue
                if self._delivery is not None:
                    await self._delivery.reseek_overdue()
                consumer = self._app.consumer
                offsets = {
                    tp: (consumer._committed_offset.get(tp), consumer.highwater(tp))  # noqa: SLF001
                    for tp in consumer.assignment()
                    if tp.topic in topics
                }
                now = time.monotonic()
                blocked = any(
                    started is not None and now - started >= BLOCKED_CALL_S
                    for started in self._calls.values()
                )
                for tp, offset in self._stall_watch.observe(now, offsets, handler_blocked=blocked):
                    log.warning(
                        "%s[%d]: committed offset stuck at %d with messages waiting for %.0fs;"
                        " reading the partition again from there",
                        tp.topic,
                        tp.partition,
                        offset,
                        self._stall_watch.stall_after_s,
                    )
                    await consumer.seek(tp, offset)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a watchdog must never take the worker down
                log.debug("stall watch failed", exc_info=True)

    def _consumer_wedged(self) -> bool:
        """Whether to replace the Faust app: a partition wedged, or table recovery stuck."""
        if self._delivery is not None:
            guard = self._delivery.guard
            wedged = guard.wedged(time.monotonic())
            if wedged:
                (topic, partition), offset = wedged[0]
                log.warning(
                    "%s[%d]: offset %d has not arrived for %.0fs although the partition was"
                    " read again; restarting the Kafka consumer",
                    topic,
                    partition,
                    offset,
                    guard.wedged_after_s,
                )
                return True
        recovery = self._app.tables.recovery
        remaining = int(recovery.active_remaining_total())
        stuck = self._recovery_watch.observe(
            time.monotonic(), in_recovery=bool(recovery.in_recovery), remaining=remaining
        )
        if stuck:
            log.warning(
                "table recovery has made no progress for %.0fs (%d changelog messages to go);"
                " restarting the Kafka consumer",
                self._recovery_watch.stuck_after_s,
                remaining,
            )
        return stuck

    async def _restart_app(self) -> None:
        """Replace the Faust app with a fresh one: it rejoins the group and recovers again.

        In-memory state derived from the partitions is dropped first (the revocation
        callbacks), as for any rebalance: it is restored from the tables after recovery.
        """
        old, self._app = self._app, None
        for callback in self._revoked_callbacks:
            callback()
        if self._delivery is not None:
            self._delivery.close()
            self._delivery = None
        try:
            await asyncio.wait_for(old.stop(), timeout=60)
        except Exception:  # noqa: BLE001 - the stuck app is dropped whatever its stop does
            log.warning("stopping the stuck Faust app failed", exc_info=True)
        while True:
            try:
                await self._start_app()
                return
            except Exception as exc:  # noqa: BLE001 - a worker without a consumer is no worker
                log.warning("restarting the Kafka consumer failed (%s); trying again in 5s", exc)
                await asyncio.sleep(5)

    async def _probe_broker(self, interval_s: float = 5.0) -> None:
        """Keep `ready()` current by asking the cluster for its metadata now and then."""
        from kafka.admin import KafkaAdminClient

        loop = asyncio.get_running_loop()

        def describe() -> bool:
            admin = KafkaAdminClient(
                bootstrap_servers=self._servers,
                client_id=f"{self._client_id}-probe",
                request_timeout_ms=5_000,
            )
            try:
                return bool(admin.describe_cluster().get("brokers"))
            finally:
                admin.close()

        while True:
            await asyncio.sleep(interval_s)
            try:
                self._reachable = await loop.run_in_executor(None, describe)
            except Exception as exc:  # noqa: BLE001 - unreachable is an answer, not a crash
                if self._reachable:
                    log.warning("Kafka unreachable: %s", exc)
                self._reachable = False

    def ready(self) -> bool:
        return self._producer is not None and self._reachable

    def on_partitions_revoked(self, callback: Callable[[], None]) -> None:
        self._revoked_callbacks.append(callback)

    def consumers(self) -> list[tuple[str, Dispatcher | BatchDispatcher]]:
        return [(self._group or "", d) for d in self.dispatchers]

    def consumer_lag(self) -> dict[tuple[str, str], int]:
        """End offset minus committed offset, summed over the assigned partitions of a topic.

        Read from what the consumer already knows (no request to the broker), so a scrape
        never blocks; a partition not fetched yet counts as no lag.
        """
        if self._app is None:
            return {}
        lag: dict[tuple[str, str], int] = {}
        try:
            consumer = self._app.consumer
            for tp in consumer.assignment():
                if not tp.topic.startswith(self._prefix):
                    continue
                topic = tp.topic.removeprefix(self._prefix)
                end = consumer.highwater(tp)
                committed = consumer._committed_offset.get(tp)  # noqa: SLF001 - no public API
                key = (topic, self._group or "")
                behind = max(0, end - (committed or 0)) if end is not None else 0
                lag[key] = lag.get(key, 0) + behind
        except Exception:  # noqa: BLE001 - metrics must never break a scrape
            log.debug("cannot compute consumer lag", exc_info=True)
        return lag

    async def wait_assigned(self, timeout: float = 60.0) -> None:
        """Wait until the consumer has joined its group and owns partitions."""
        if self._app is None:
            return
        async with asyncio.timeout(timeout):
            while not self._app.consumer.assignment():
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._stall_task is not None:
            self._stall_task.cancel()
            self._stall_task = None
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        if self._app is not None:
            # Faust stops the agents, then commits what they acknowledged.
            await self._app.stop()
            self._app = None
        if self._delivery is not None:
            self._delivery.close()
            self._delivery = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.get_running_loop().run_in_executor(None, _close_producer, producer)


class _FaustTableStore:
    """A Faust table: a compacted changelog topic, restored before partitions are consumed."""

    def __init__(self, name: str, partitions: int) -> None:
        self.name = name
        self.partitions = partitions
        self._table: Any = None
        self._app: Any = None

    def bind(self, app: Any) -> None:
        self._app = app
        self._table = app.Table(
            self.name, default=None, partitions=self.partitions, key_type=bytes, value_type=bytes
        )

    def get(self, key: str) -> bytes | None:
        value = self._table.get(key.encode())
        return bytes(value) if value is not None else None

    def put(self, key: str, value: bytes) -> None:
        self._table[key.encode()] = value

    async def flush(self) -> None:
        """Return once every table write so far is acknowledged by the broker."""
        await self._app.producer.flush()


class _OrderedDelivery:
    """Applies an OffsetGuard (order.py) to a Faust app's agents, for `topics` (full names).

    Compacted topics are left out: compaction leaves holes in their offsets by design.
    """

    def __init__(self, app: Any, servers: list[str], group_id: str, topics: set[str]) -> None:
        self._app = app
        self._servers = servers
        self._group_id = group_id
        self._topics = topics
        self.guard: OffsetGuard[tuple[str, int]] = OffsetGuard()
        self._admin: Any = None
        self._lock = asyncio.Lock()
        consumer = app.consumer
        faust_ack = consumer.ack

        def ack(message: Any) -> bool:
            # Faust acknowledges messages it skipped (fetched under an earlier generation)
            # and then commits past them; only what a handler finished may count.
            if message.topic in topics and not self.guard.may_ack(
                (message.topic, message.partition), message.offset
            ):
                return False
            return bool(faust_ack(message))

        consumer.ack = ack

    @property
    def generation(self) -> int:
        return self.guard.generation

    def revoke(self) -> None:
        self.guard.revoke()

    async def admit(self, messages: Sequence[Any]) -> list[bool]:
        """Which of `messages` (Faust messages, in arrival order) to hand to the handler."""
        ordered = [m for m in messages if m.topic in self._topics]
        unknown = {
            (m.topic, m.partition) for m in ordered if not self.guard.knows((m.topic, m.partition))
        }
        if unknown:
            generation = self.guard.generation
            starts = await self._starting_offsets(unknown)
            if generation != self.guard.generation:
                return [False] * len(messages)  # revoked meanwhile: Faust delivers them again
            for partition, offset in starts.items():
                if not self.guard.knows(partition):
                    self.guard.start(partition, offset)
        verdicts = iter(self.guard.admit([((m.topic, m.partition), m.offset) for m in ordered]))
        admitted = []
        for message in messages:
            if message.topic not in self._topics:
                admitted.append(True)
                continue
            verdict = next(verdicts)
            admitted.append(verdict is Verdict.HANDLE)
            if verdict is Verdict.GAP:
                await self._read_again(message)
        return admitted

    def done(self, messages: Sequence[Any], generation: int) -> None:
        self.guard.done(
            [((m.topic, m.partition), m.offset) for m in messages if m.topic in self._topics],
            generation,
        )

    async def _read_again(self, message: Any) -> None:
        partition = (message.topic, message.partition)
        offset = self.guard.seek_to(partition, time.monotonic())
        if offset is None:
            return
        log.warning(
            "%s[%d]: offset %d arrived where %d was next (messages went missing between Kafka"
            " and the agent); reading the partition again from %d",
            message.topic,
            message.partition,
            message.offset,
            offset,
            offset,
        )
        await self._app.consumer.seek(message.tp, offset)

    async def reseek_overdue(self) -> None:
        """Seek again where a gap's seek has not brought the missing messages yet."""
        from faust.types import TP

        for (topic, partition), offset in self.guard.overdue(time.monotonic()):
            log.warning(
                "%s[%d]: still waiting for offset %d; reading again", topic, partition, offset
            )
            await self._app.consumer.seek(TP(topic, partition), offset)

    async def _starting_offsets(
        self, partitions: set[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """Each partition's committed offset for the group (or its log start if none)."""
        async with self._lock:
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    None, self._ask_broker, partitions
                )
            except Exception as exc:  # noqa: BLE001 - fall back to the first message's offset
                log.warning(
                    "cannot read committed offsets (%s: %s); each partition resumes at the"
                    " first message Faust delivers",
                    type(exc).__name__,
                    exc,
                )
                self.close()
                return {}

    def _ask_broker(self, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        from kafka import KafkaAdminClient, TopicPartition
        from kafka.admin import OffsetSpec

        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self._servers,
                client_id=f"{self._group_id}-offsets",
                request_timeout_ms=10_000,
            )
        tps = [TopicPartition(t, p) for t, p in partitions]
        committed = self._admin.list_group_offsets({self._group_id: tps}).get(self._group_id, {})
        earliest = self._admin.list_partition_offsets(dict.fromkeys(tps, OffsetSpec.EARLIEST))
        starts = {}
        for tp in tps:
            first = earliest[tp].offset
            done = committed.get(tp)
            starts[(tp.topic, tp.partition)] = max(first, done.offset) if done else first
        return starts

    def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                admin.close()
            except Exception:  # noqa: BLE001 - closing a broken client is best effort
                log.debug("closing the offsets admin client failed", exc_info=True)


def _drain_fully_on_flush(buffer: Any) -> None:
    """Make the Faust producer buffer's `flush()` return only once the buffer is empty.

    Faust flushes its producer before it commits offsets, so that table (changelog) writes
    are durable before the input that caused them is marked done. But the buffer's own
    `flush()` gives up after 0.1 s without a completed send and returns with writes still
    queued; on a busy machine the commit then overtakes them, and a worker killed right
    after loses state whose input it already committed: the next owner of the partition
    starts those series cold (seen in the takeover test on a loaded CI machine). Draining
    until empty keeps the order Faust intends; if the broker is down, the commit waits.
    """
    flush_atmost = buffer.flush_atmost

    async def flush() -> None:
        while buffer.size:
            await flush_atmost(None)

    buffer.flush = flush


def _describe(partitions: Any) -> str:
    """`topic[0,3,5] other[1]` for a set of Faust TPs, for logs."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return " ".join(f"{t}{sorted(p)}" for t, p in sorted(by_topic.items())) or "none"


def _close_producer(producer: Any) -> None:
    producer.flush(timeout=30)
    producer.close(timeout=30)


class _Acks:
    """One asyncio future for the kafka-python futures of one publish.

    Settled once, when the last record is acknowledged or the first one fails: one wake-up of
    the event loop per publish instead of one per record. Callbacks run on kafka-python's I/O
    thread (or on the sending thread for a record already done), hence the lock.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.remaining = count
        self._lock = threading.Lock()
        if count == 0:
            self.future.set_result(None)

    def ok(self, _metadata: Any) -> None:
        with self._lock:
            self.remaining -= 1
            last = self.remaining == 0
        if last:
            self.loop.call_soon_threadsafe(_settle, self.future, None, None)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self.remaining <= 0:
                return  # already settled (or abandoned)
            self.remaining = 0
        self.loop.call_soon_threadsafe(_settle, self.future, None, exc)

    def abandon(self) -> None:
        """Sending failed part-way: nobody awaits the future, so never settle it."""
        with self._lock:
            self.remaining = 0


def _settle(fut: asyncio.Future[Any], value: Any, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


def _agent_for(
    dispatcher: Dispatcher,
    logical_topic: str,
    calls: dict[str, float | None],
    delivery: _OrderedDelivery,
) -> Callable[[Any], Any]:
    """A Faust agent body that hands each message to the dispatcher, in offset order.

    `calls[logical_topic]` says since when the current handler call runs (for the stall watch).
    """

    async def agent(stream: Any) -> None:
        calls[logical_topic] = None
        async for event in stream.events():
            message = event.message
            generation = delivery.generation
            (admitted,) = await delivery.admit([message])
            if not admitted:
                continue  # skipped: acknowledged only if it was handled before
            raw = RawMessage(
                topic=logical_topic,
                key=message.key,
                value=message.value if message.value is not None else b"",
                partition=message.partition,
                offset=message.offset,
            )
            calls[logical_topic] = time.monotonic()
            try:
                await dispatcher.dispatch(raw)
            finally:
                calls[logical_topic] = None
            delivery.done([message], generation)

    return agent


def _batch_agent_for(
    dispatcher: BatchDispatcher,
    logical_topic: str,
    max_batch: int,
    max_wait_s: float,
    calls: dict[str, float | None],
    delivery: _OrderedDelivery,
) -> Callable[[Any], Any]:
    """A Faust agent body handing batches to the dispatcher.

    `take_events` acknowledges a batch's events only when the body asks for the next batch,
    that is after the dispatcher finished with this one (at-least-once, as for single events).
    """

    async def agent(stream: Any) -> None:
        calls[logical_topic] = None
        async for events in stream.take_events(max_batch, within=max_wait_s):
            generation = delivery.generation
            messages = [e.message for e in events]
            admitted = await delivery.admit(messages)
            handled = [m for m, ok in zip(messages, admitted, strict=True) if ok]
            if not handled:
                continue
            raws = [
                RawMessage(
                    topic=logical_topic,
                    key=m.key,
                    value=m.value if m.value is not None else b"",
                    partition=m.partition,
                    offset=m.offset,
                )
                for m in handled
            ]
            calls[logical_topic] = time.monotonic()
            try:
                await dispatcher.dispatch(raws)
            finally:
                calls[logical_topic] = None
            delivery.done(handled, generation)

    return agent
