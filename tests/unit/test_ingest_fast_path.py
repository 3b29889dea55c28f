"""The fast path of ingest keeps the wire contract: trusted points, orjson batches, inline sends.

Points built without validation must be indistinguishable from validated ones; batches written
by orjson must decode (with the consumers' unchanged `decode_all`) to the very events given;
the producer is called on the event loop only when it cannot block.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.bus.base import RawMessage, _flat, _list_of, decode_all, encode_batch
from services.core.bus.kafka import KafkaBus
from services.core.errors import RetryableError
from services.core.events import Anomaly, LogRecord, MetricPoint, Severity, Span
from services.core.topics import ANOMALIES, TELEMETRY_LOGS, TELEMETRY_METRICS, TELEMETRY_TRACES
from services.ingest.formats import DecodeContext, Decoded, DecodeError, emit_point, remote_write
from services.ingest.formats.cumulative import CounterState
from services.ingest.formats.trusted import TRUSTED, construct_matches_validation, trusted_point
from tests.unit.ingest_payloads import rw_body

text = st.text(max_size=30)
labels = st.dictionaries(text, text, max_size=6)
finite = st.floats(allow_nan=False, allow_infinity=False)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
stamps = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    offsets,
)


def test_trusted_points_are_in_use_and_match_validation() -> None:
    assert TRUSTED and construct_matches_validation()


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=256), labels, finite, stamps, text)
def test_a_trusted_point_equals_the_validated_one(
    name: str, labels: dict[str, str], value: float, timestamp: datetime, tenant: str
) -> None:
    built = trusted_point("id1", name, labels, value, timestamp, tenant)
    checked = MetricPoint(
        id="id1", name=name, labels=labels, value=value, timestamp=timestamp, tenant=tenant
    )
    assert built == checked
    assert built.model_dump_json() == checked.model_dump_json()
    assert built.partition_key() == checked.partition_key()
    assert MetricPoint.model_validate_json(built.model_dump_json()) == checked


def test_emit_point_makes_the_checks_validation_would_have_made() -> None:
    out, ctx = Decoded(), DecodeContext(now=datetime(2027, 1, 1))  # naive: taken as UTC
    emit_point(out, ctx, "x" * 257, {}, "", 1.0, ctx.now)
    emit_point(out, ctx, "", {}, "", 1.0, ctx.now)
    emit_point(out, ctx, "m", {}, "", float("inf"), ctx.now)
    emit_point(out, ctx, "m", {"a": "1"}, '{a="1"}', 2, datetime(2027, 1, 1))
    assert out.rejected.counts == {"invalid": 2, "non_finite": 1}
    [point] = out.metrics
    assert point.timestamp.tzinfo is not None and point.value == 2.0
    assert type(point.value) is float
    assert out.metric_keys == [point.partition_key()]


def test_remote_write_refuses_overlong_names_instead_of_poisoning_the_batch() -> None:
    body = rw_body([({"__name__": "n" * 300}, [(1.0, 1_800_000_000_000)])])
    raw = bytes(cramjam.snappy.decompress_raw(body))
    decoded = remote_write.decode(raw, DecodeContext())
    assert decoded.metrics == [] and decoded.rejected.counts == {"invalid": 1}


def test_remote_write_series_labels_are_cached_yet_read_afresh_per_series() -> None:
    ms = 1_800_000_000_000
    series = [
        ({"__name__": "up", "job": "a", "empty": ""}, [(1.0, ms)]),
        ({"__name__": "up", "job": "b"}, [(0.0, ms)]),
    ]
    raw = bytes(cramjam.snappy.decompress_raw(rw_body(series)))
    first = remote_write.decode(raw, DecodeContext()).metrics
    again = remote_write.decode(raw, DecodeContext()).metrics
    for points in (first, again):
        assert [(p.name, p.labels, p.value) for p in points] == [
            ("up", {"job": "a"}, 1.0),
            ("up", {"job": "b"}, 0.0),
        ]


def test_remote_write_label_that_is_not_utf8_is_a_decode_error() -> None:
    label = b"\x0a\x08__name__\x12\x02\xff\xfe"  # Label{name="__name__", value=<not UTF-8>}
    series = b"\x0a" + bytes([len(label)]) + label
    request = b"\x0a" + bytes([len(series)]) + series
    with pytest.raises(DecodeError, match="timeseries.labels"):
        remote_write.decode(request, DecodeContext())


points = st.builds(
    MetricPoint,
    name=st.text(min_size=1, max_size=40),
    labels=labels,
    value=finite,
    timestamp=stamps,
    tenant=text,
)
logs = st.builds(
    LogRecord,
    timestamp=stamps,
    service=text,
    severity=st.sampled_from(list(Severity)),
    body=st.text(max_size=200),
    attributes=labels,
    trace_id=st.none() | st.text(min_size=1, max_size=32),
)
spans = st.builds(
    Span,
    trace_id=text,
    span_id=text,
    parent_span_id=st.none() | text,
    service=text,
    operation=text,
    start=stamps,
    duration_ms=st.floats(min_value=0, allow_infinity=False),
    error=st.booleans(),
    attributes=labels,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(points, min_size=1, max_size=20))
def test_batched_metrics_decode_to_the_events_encoded(events: list[MetricPoint]) -> None:
    raw = RawMessage("telemetry.metrics", b"k", encode_batch(TELEMETRY_METRICS, events))
    assert decode_all(TELEMETRY_METRICS, raw) == events


@settings(max_examples=100, deadline=None)
@given(st.lists(logs, min_size=1, max_size=10), st.lists(spans, min_size=1, max_size=10))
def test_batched_logs_and_spans_decode_to_the_events_encoded(
    records: list[LogRecord], traced: list[Span]
) -> None:
    raw = RawMessage("telemetry.logs", b"k", encode_batch(TELEMETRY_LOGS, records))
    assert decode_all(TELEMETRY_LOGS, raw) == records
    raw = RawMessage("telemetry.traces", b"k", encode_batch(TELEMETRY_TRACES, traced))
    assert decode_all(TELEMETRY_TRACES, raw) == traced


def test_orjson_batches_are_byte_identical_to_pydantics_for_utc_points() -> None:
    now = datetime(2027, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)
    events = [
        MetricPoint(name="cpu", labels={"service": "a", "i": str(i)}, value=i / 3, timestamp=now)
        for i in range(5)
    ]
    assert _flat(MetricPoint) and _flat(LogRecord) and _flat(Span)
    expected = bytes(_list_of(MetricPoint).dump_json(events))
    assert encode_batch(TELEMETRY_METRICS, events) == expected


def test_a_value_orjson_cannot_write_falls_back_to_pydantic() -> None:
    now = datetime(2027, 1, 15, tzinfo=UTC)
    events = [MetricPoint(schema_version=2**70, name="cpu", value=1.0, timestamp=now)]
    raw = RawMessage("telemetry.metrics", b"k", encode_batch(TELEMETRY_METRICS, events))
    assert decode_all(TELEMETRY_METRICS, raw) == events


def test_schemas_with_nested_models_are_encoded_by_pydantic() -> None:
    assert not _flat(Anomaly)
    anomaly = Anomaly(
        status="firing",
        series="cpu",
        metric="cpu",
        service="a",
        timestamp=datetime(2027, 1, 1, tzinfo=UTC),
        score=0.9,
        explanation={"observed": 1, "expected": 0, "lower": 0, "upper": 0.5, "component": "c"},
    )
    value = encode_batch(ANOMALIES, [anomaly, anomaly])
    assert b'"explanation":{"observed":1.0' in value


class _Future:
    """A kafka-python future that is already acknowledged."""

    def add_callback(self, fn: Any) -> _Future:
        fn(None)
        return self

    def add_errback(self, fn: Any) -> _Future:
        return self


class _Metadata:
    def __init__(self, known: set[str]) -> None:
        self.known = known

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return {0} if topic in self.known else None


class _Producer:
    """Records on which thread each send happened."""

    def __init__(self, known: set[str]) -> None:
        self._metadata = _Metadata(known)
        self.threads: list[int] = []

    def send(self, topic: str, key: Any = None, value: Any = None, partition: Any = None) -> Any:
        self.threads.append(threading.get_ident())
        return _Future()


def test_sends_stay_on_the_event_loop_only_for_topics_with_known_metadata() -> None:
    async def scenario() -> tuple[int, list[int], list[int]]:
        bus = KafkaBus(["unused:9092"], client_id="t")
        known = _Producer({"known"})
        bus._producer = known
        await bus.publish_records([("known", b"k", b"v"), ("known", None, b"w")])
        on_loop = list(known.threads)
        known.threads.clear()
        await bus.publish_records([("known", b"k", b"v"), ("unknown", b"k", b"v")])
        return threading.get_ident(), on_loop, known.threads

    loop_thread, inline, mixed = asyncio.run(scenario())
    assert inline == [loop_thread, loop_thread]
    assert len(mixed) == 2 and all(t != loop_thread for t in mixed)


class _LaterFuture:
    """A kafka-python future settled later, from another thread (as its I/O thread does)."""

    def __init__(self) -> None:
        self.callbacks: list[Any] = []
        self.errbacks: list[Any] = []

    def add_callback(self, fn: Any) -> _LaterFuture:
        self.callbacks.append(fn)
        return self

    def add_errback(self, fn: Any) -> _LaterFuture:
        self.errbacks.append(fn)
        return self


class _SlowProducer(_Producer):
    def __init__(self) -> None:
        super().__init__({"t"})
        self.pending: list[_LaterFuture] = []

    def send(self, topic: str, key: Any = None, value: Any = None, partition: Any = None) -> Any:
        future = _LaterFuture()
        self.pending.append(future)
        return future


def test_publish_returns_only_after_every_record_is_acknowledged() -> None:
    async def scenario() -> tuple[bool, bool]:
        bus = KafkaBus(["unused:9092"], client_id="t")
        producer = _SlowProducer()
        bus._producer = producer
        task = asyncio.create_task(bus.publish_records([("t", None, b"a"), ("t", None, b"b")]))
        await asyncio.sleep(0.01)
        [first, second] = producer.pending
        await asyncio.to_thread(first.callbacks[0], "meta")
        await asyncio.sleep(0.01)
        waiting_after_one = not task.done()
        await asyncio.to_thread(second.callbacks[0], "meta")
        await asyncio.wait_for(task, 5)
        return waiting_after_one, task.done()

    assert asyncio.run(scenario()) == (True, True)


def test_a_record_the_broker_refuses_fails_the_publish_as_retryable() -> None:
    async def scenario() -> None:
        bus = KafkaBus(["unused:9092"], client_id="t")
        producer = _SlowProducer()
        bus._producer = producer
        task = asyncio.create_task(bus.publish_records([("t", None, b"a"), ("t", None, b"b")]))
        await asyncio.sleep(0.01)
        [first, second] = producer.pending
        await asyncio.to_thread(first.errbacks[0], TimeoutError("no ack"))
        await asyncio.to_thread(second.callbacks[0], "meta")  # too late to matter
        with pytest.raises(RetryableError, match="no ack"):
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_counter_state_stays_bounded_and_forgets_the_least_recently_seen() -> None:
    state = CounterState(max_series=2)
    assert state.rate("a", 1, 10) is None and state.rate("b", 1, 10) is None
    assert state.rate("a", 2, 12) == 2.0
    assert state.rate("c", 1, 10) is None  # b is the least recently seen: forgotten
    assert len(state) == 2 and state.evicted == 1
    assert state.rate("b", 2, 20) is None  # seeds again, and pushes a out
    assert state.rate("a", 3, 15) is None
    assert state.rate("b", 3, 23) == 3.0
    assert len(state) == 2 and state.evicted == 3
