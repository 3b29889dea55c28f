"""Decoders: one pure module per source format. Bytes or parsed JSON in, normalised events out.

No I/O here. A decoder raises `DecodeError` (naming the bad field) when the payload as a whole
cannot be read, and records per-item problems in `Decoded.rejected` when only some items are
bad, so the route can answer with a partial success. Cumulative counters need memory of the
previous point of each series: that is `CounterState`, passed in through `DecodeContext`.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count

from services.core.errors import VigilError
from services.core.events import ExternalAlert, LogRecord, MetricPoint, Span
from services.ingest.formats.cumulative import CounterState
from services.ingest.formats.trusted import trusted_point


class DecodeError(VigilError):
    """The payload cannot be decoded; `field` says where (answered as a 400)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem


@dataclass
class Rejections:
    """Items dropped while decoding (or later), counted by reason, with the first message."""

    counts: Counter[str] = field(default_factory=Counter)
    first_message: str = ""

    def add(self, reason: str, message: str, n: int = 1) -> None:
        """Count `n` items dropped for `reason`."""
        if n <= 0:
            return
        self.counts[reason] += n
        if not self.first_message:
            self.first_message = message

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Decoded:
    """What one request carried, normalised.

    `metric_keys[i]` is `metrics[i].partition_key()`, computed once while decoding (when a
    decoder leaves it short, the service computes the keys itself). Points' `labels` dicts are
    shared, between points of a series and (remote_write) with a cache across requests: read
    them, never mutate them.
    """

    metrics: list[MetricPoint] = field(default_factory=list)
    metric_keys: list[str] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    alerts: list[ExternalAlert] = field(default_factory=list)
    rejected: Rejections = field(default_factory=Rejections)

    @property
    def items(self) -> int:
        return len(self.metrics) + len(self.logs) + len(self.spans) + len(self.alerts)


def _ids() -> Iterator[str]:
    # A random 64-bit prefix per request and a counter: unique, and far cheaper per event
    # than a fresh random id (events.new_id) when a request carries thousands of points.
    return map(f"{os.urandom(8).hex()}{{:x}}".format, count())


@dataclass
class DecodeContext:
    """Everything a decoder needs besides the payload."""

    tenant: str = "default"
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    counters: CounterState = field(default_factory=CounterState)
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)
    counter_suffixes: tuple[str, ...] = ("_total", "_count", "_sum", "_bucket")
    max_items: int = 50_000
    ids: Iterator[str] = field(default_factory=_ids)

    def __post_init__(self) -> None:
        # Decoders build points without validation (see `trusted`): naive means UTC here too.
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=UTC)


def label_block(labels: dict[str, str]) -> str:
    """The labels part of a series key (`{a="1",b="2"}`, sorted; "" without labels).

    `name + label_block(labels)` is exactly `events.series_key(name, labels)`.
    """
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{labels[k]}"' for k in sorted(labels)) + "}"


MAX_NAME = 256  # MetricPoint.name's max_length


def emit_point(
    out: Decoded,
    ctx: DecodeContext,
    name: str,
    labels: dict[str, str],
    block: str,
    value: float,
    timestamp: datetime,
) -> None:
    """Append a MetricPoint (and its partition key), or count it as rejected.

    The decoders hand over typed values (str labels, float values, datetimes), so the only
    checks MetricPoint's validation would still make are done here, and the point is built
    without it (`trusted_point`): validation was the largest single cost of a request.
    """
    if not 0 < len(name) <= MAX_NAME:
        out.rejected.add("invalid", f"{name[:80]!r}: name is empty or over {MAX_NAME} characters")
        return
    if not math.isfinite(value):
        out.rejected.add("non_finite", f"{name[:80]}: value {value} is not finite")
        return
    if timestamp.tzinfo is None:  # as MetricPoint's validator does: naive means UTC
        timestamp = timestamp.replace(tzinfo=UTC)
    out.metrics.append(
        trusted_point(next(ctx.ids), name, labels, float(value), timestamp, ctx.tenant)
    )
    out.metric_keys.append(f"{ctx.tenant}/{name}{block}")


def nanos_to_datetime(nanos: int, default: datetime) -> datetime:
    """A unix-nanosecond timestamp as an aware datetime; 0 (unset) means `default`."""
    if nanos <= 0:
        return default
    try:
        return datetime.fromtimestamp(nanos / 1e9, UTC)
    except (OverflowError, OSError, ValueError):
        raise DecodeError("timeUnixNano", f"timestamp {nanos} is out of range") from None


def check_items(count: int, context: DecodeContext) -> None:
    """Refuse a request carrying more items than allowed (answered as a 413)."""
    if count > context.max_items:
        raise TooManyItems(f"at most {context.max_items} items per request, got {count}")


class TooManyItems(VigilError):
    """The request carries more items than one request may (answered as a 413)."""
