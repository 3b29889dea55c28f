"""Load and bookkeeping for the fault tests: a streaming sender and what reached Kafka."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.core.bus.base import RawMessage, decode_all
from services.core.errors import InvalidMessage
from services.core.events import MetricPoint
from services.core.topics import TELEMETRY_METRICS
from tests.integration.stack import Stack

Identity = tuple[str, str, float]  # metric name, service, timestamp


def identity(point: dict[str, Any]) -> Identity:
    from datetime import datetime

    at = datetime.fromisoformat(point["timestamp"]).timestamp()
    return (point["name"], point["labels"]["service"], at)


@dataclass
class Sender:
    """Streams batches to ingest from a thread, a few ticks per request, paced.

    Only points ingest acknowledged (HTTP 200) count as accepted. A request that fails
    (ingest killed, refused) is not retried: its points were never accepted, and the stream
    moves on, as a scraper would with its next scrape.
    """

    stack: Stack
    batches: list[list[dict[str, Any]]]
    per_request: int = 4
    pause_s: float = 0.05
    accepted: list[Identity] = field(default_factory=list)
    failed_requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    sent_ticks: int = 0
    first_ok_after: dict[float, float] = field(default_factory=dict)
    _thread: threading.Thread | None = None
    _errors: list[BaseException] = field(default_factory=list)

    def start(self, upto: int | None = None) -> Sender:
        self._thread = threading.Thread(target=self._run, args=(upto,), daemon=True)
        self._thread.start()
        return self

    def _run(self, upto: int | None) -> None:
        end = len(self.batches) if upto is None else upto
        try:
            with httpx.Client(timeout=30) as client:
                while self.sent_ticks < end:
                    chunk = self.batches[self.sent_ticks : self.sent_ticks + self.per_request]
                    points = [p for batch in chunk for p in batch]
                    status = self._post(client, points)
                    self.statuses[status] += 1
                    if status == 200:
                        self.accepted.extend(identity(p) for p in points)
                        now = time.monotonic()
                        for since in list(self.first_ok_after):
                            self.first_ok_after[since] = self.first_ok_after[since] or now
                    else:
                        self.failed_requests += 1
                        time.sleep(1.0)  # a scraper waits for its next interval
                    self.sent_ticks += len(chunk)
                    time.sleep(self.pause_s)
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self._errors.append(exc)

    def _post(self, client: httpx.Client, points: list[dict[str, Any]]) -> int:
        try:
            response = client.post(f"{self.stack.ingest}/v1/json/metrics", json={"points": points})
        except httpx.HTTPError:
            return 0  # refused or cut off: nothing acknowledged
        return response.status_code

    def mark(self) -> float:
        """Remember now; `recovered(mark)` is when the first request after it succeeded."""
        now = time.monotonic()
        self.first_ok_after[now] = 0.0
        return now

    def recovered(self, mark: float) -> float:
        return self.first_ok_after.get(mark, 0.0)

    def join(self, timeout_s: float = 300) -> None:
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the sender never finished"
        assert not self._errors, self._errors


def kafka_points(stack: Stack, services: set[str]) -> Counter[Identity]:
    """How often each point of `services` is in telemetry.metrics."""
    found: Counter[Identity] = Counter()
    events = []
    for m in stack.topic(TELEMETRY_METRICS.name):
        raw = RawMessage(TELEMETRY_METRICS.name, m.key, m.value, m.partition, m.offset)
        try:
            events.extend(decode_all(TELEMETRY_METRICS, raw))
        except InvalidMessage:
            continue  # a poison message of the poison test
    for event in events:
        assert isinstance(event, MetricPoint)
        service = event.labels.get("service", "")
        if service in services:
            found[(event.name, service, event.timestamp.timestamp())] += 1
    return found


@dataclass(frozen=True)
class Ledger:
    """Accepted vs persisted points, and how many accepted points are stored twice."""

    accepted: int
    persisted: int
    duplicates: int
    lost: int


def ledger(accepted: list[Identity], stored: Counter[Identity]) -> Ledger:
    """Compare what was acknowledged with what is stored."""
    wanted = Counter(accepted)
    assert max(wanted.values(), default=1) == 1, "the test sent a point twice itself"
    persisted = sum(1 for i in wanted if stored[i] >= 1)
    duplicates = sum(stored[i] - 1 for i in wanted if stored[i] > 1)
    # Points of a request cut off before its answer may be stored without being accepted;
    # they are neither loss nor duplicates, but they must not be stored twice either.
    duplicates += sum(n - 1 for i, n in stored.items() if i not in wanted and n > 1)
    return Ledger(len(wanted), persisted, duplicates, len(wanted) - persisted)


def duplicate_incidents(stack: Stack, service: str, expected: int = 1) -> int:
    """Incidents of `service` beyond the `expected` ones."""
    return max(0, len(stack.incidents(service)) - expected)


def uncommitted(bootstrap: str, group: str, topic: str) -> int:
    """Messages of `topic` past `group`'s committed offsets (all of them if it committed none)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        end = consumer.end_offsets(tps)
        return sum(end[tp] - (consumer.committed(tp) or 0) for tp in tps)
    finally:
        consumer.close()


def detect_progresses(stack: Stack, timeout_s: float = 45) -> bool:
    """Whether detect commits through its backlog (lag falls, or is 0) within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    before = stack.detect_lag()
    while time.monotonic() < deadline:
        lag = stack.detect_lag()
        if lag == 0 or (lag is not None and before is not None and lag < before):
            return True
        time.sleep(2)
    return False


def assert_detect_recovers(stack: Stack, timeout_s: float = 120) -> float:
    """Detect commits through its backlog by itself (no restart); returns the seconds it took.

    A partition whose commit sticks behind a message Faust lost is re-read by the bus after
    30 s (services/core/bus/stall.py); `timeout_s` leaves room for that and a rebalance.
    """
    began = time.monotonic()
    assert detect_progresses(stack, timeout_s=timeout_s), (
        f"detect made no progress within {timeout_s:.0f} s and was not restarted: "
        f"lag {stack.detect_lag()}"
    )
    return time.monotonic() - began
