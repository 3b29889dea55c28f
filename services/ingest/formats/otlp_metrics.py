"""OTLP metrics (ExportMetricsServiceRequest, protobuf or JSON) -> MetricPoint events.

What each metric kind becomes (names as emitted):

- gauge: `name`, the value as is.
- sum, monotonic (a counter): `name:rate`, per second. Cumulative sums are differenced against
  the series' previous point (the first point of a series only seeds the state; a reset uses
  the new start time); delta sums are divided by their interval.
- sum, not monotonic (an up-down counter): `name`, the value as is.
- histogram and exponential histogram: over the interval since the previous point (or the
  delta interval): `name_count:rate`, `name_sum:rate`, `name:mean` and one `name:pNN` per
  configured quantile, estimated from the buckets (when they agree with the bounds).
- summary: `name_count:rate`, `name_sum:rate` (cumulative, as above) and `name:pNN` for each
  quantile the summary carries.

Resource and scope attributes become labels (`service.name` -> `service`), then the data
point's attributes (which win on conflicts). Points flagged "no recorded value" are skipped.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from services.ingest.formats import (
    DecodeContext,
    Decoded,
    check_items,
    emit_point,
    nanos_to_datetime,
    otlp_wire,
)
from services.ingest.formats.histograms import (
    MAX_BUCKETS,
    explicit_segments,
    exponential_segments,
    quantile,
    quantile_name,
)
from services.ingest.formats.otlp_common import parse_json
from services.ingest.formats.otlp_common import resource_labels as base_labels
from services.ingest.formats.otlp_wire import LabelSets
from services.ingest.formats.trusted import trusted_point

DELTA, CUMULATIVE = 1, 2
NO_RECORDED_VALUE = 1


def decode_protobuf(body: bytes, context: DecodeContext) -> Decoded:
    """Decode a binary OTLP metrics export."""
    return decode_request(otlp_wire.parse(body), context)


def decode_json(body: bytes | Any, context: DecodeContext) -> Decoded:
    """Decode an OTLP/JSON metrics export."""
    official = parse_json(ExportMetricsServiceRequest, body)
    return decode_request(otlp_wire.from_official(official), context)


def decode_request(request: Any, context: DecodeContext) -> Decoded:
    """Normalise a parsed export request (the shadow message of `otlp_wire`)."""
    out = Decoded()
    total = sum(
        len(getattr(m, m.WhichOneof("data") or "gauge").data_points)
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    )
    check_items(total, context)
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            sets = LabelSets(base_labels(rm.resource.attributes, sm.scope.attributes))
            for metric in sm.metrics:
                _decode_metric(metric, sets, context, out)
    return out


def _decode_metric(metric: Any, base: LabelSets, ctx: DecodeContext, out: Decoded) -> None:
    kind = metric.WhichOneof("data")
    name = metric.name
    if kind is None:
        return
    points = getattr(metric, kind).data_points
    if not name or len(name) > 200:
        out.rejected.add("invalid", f"metric name {name[:40]!r} is empty or too long", len(points))
        return
    if kind == "gauge":
        _numbers(name, points, base, ctx, out, rate=False, temporality=0)
    elif kind == "sum":
        data = metric.sum
        _numbers(
            name,
            points,
            base,
            ctx,
            out,
            rate=data.is_monotonic,
            temporality=data.aggregation_temporality,
        )
    elif kind == "summary":
        for dp in points:
            _summary(name, dp, base, ctx, out)
    else:
        temporality = getattr(metric, kind).aggregation_temporality
        if temporality not in (DELTA, CUMULATIVE):
            out.rejected.add("invalid", f"{name}: aggregation temporality unspecified", len(points))
            return
        for dp in points:
            _histogram(name, kind, temporality, dp, base, ctx, out)


def _numbers(
    name: str,
    points: Any,
    base: LabelSets,
    ctx: DecodeContext,
    out: Decoded,
    *,
    rate: bool,
    temporality: int,
) -> None:
    # The hot loop of OTLP ingest (most points are gauges and counters): names, the tenant and
    # the output lists are bound once per metric, and points are built with `trusted_point`
    # (the checks `emit_point` makes are made here: the name is at most 200 + 5 characters,
    # values are finite, timestamps aware).
    tenant, now = ctx.tenant, ctx.now
    if rate and temporality not in (DELTA, CUMULATIVE):
        out.rejected.add("invalid", f"{name}: aggregation temporality unspecified", len(points))
        return
    emitted_name = name + ":rate" if rate else name
    series_prefix, key_prefix = f"{tenant}/{name}", f"{tenant}/{emitted_name}"
    counters, cumulative = ctx.counters, temporality == CUMULATIVE
    add_point, add_key, ids = out.metrics.append, out.metric_keys.append, ctx.ids
    known_sets, label_sets = base.known, base.of
    isfinite = math.isfinite
    stamps: dict[int, datetime] = {}  # points of a scrape share their timestamp
    for dp in points:
        if dp.flags & NO_RECORDED_VALUE:
            continue
        value = dp.as_double
        if not value:  # 0.0, or not a double: look closer (rarely needed, so done lazily)
            which = dp.WhichOneof("value")
            if which == "as_int":
                value = float(dp.as_int)
            elif which is None:
                out.rejected.add("invalid", f"{name}: data point without a value")
                continue
        if not isfinite(value):
            out.rejected.add("non_finite", f"{name}: value {value} is not finite")
            continue
        attributes = tuple(dp.attributes)
        found = known_sets.get(attributes)
        labels, block = found if found is not None else label_sets(attributes)
        t_ns = dp.time_unix_nano
        timestamp = stamps.get(t_ns)
        if timestamp is None:
            timestamp = stamps[t_ns] = nanos_to_datetime(t_ns, now)
        if rate:
            t = t_ns / 1e9 if t_ns else now.timestamp()
            start = dp.start_time_unix_nano / 1e9
            if cumulative:
                per_second = counters.rate(series_prefix + block, t, value, start)
            else:
                per_second = value / (t - start) if 0 < start < t else None
                if per_second is None:
                    out.rejected.add("invalid", f"{name}: delta point without a valid interval")
            if per_second is None:
                continue
            if not isfinite(per_second):
                out.rejected.add("non_finite", f"{name}: computed rate {per_second} is not finite")
                continue
            value = per_second
        add_point(trusted_point(next(ids), emitted_name, labels, value, timestamp, tenant))
        add_key(key_prefix + block)


def _summary(name: str, dp: Any, base: LabelSets, ctx: DecodeContext, out: Decoded) -> None:
    if dp.flags & NO_RECORDED_VALUE:
        return
    series = base.of(dp.attributes)
    t = dp.time_unix_nano / 1e9 if dp.time_unix_nano else ctx.now.timestamp()
    timestamp = nanos_to_datetime(dp.time_unix_nano, ctx.now)
    start = dp.start_time_unix_nano / 1e9
    key = f"{ctx.tenant}/{name}{series[1]}"
    count_rate = ctx.counters.rate(key + "#count", t, float(dp.count), start)
    if count_rate is not None:
        _emit(out, f"{name}_count:rate", series, count_rate, timestamp, ctx)
    if math.isfinite(dp.sum):
        sum_rate = ctx.counters.rate(key + "#sum", t, dp.sum, start)
        if sum_rate is not None:
            _emit(out, f"{name}_sum:rate", series, sum_rate, timestamp, ctx)
    for qv in dp.quantile_values:
        if 0 <= qv.quantile <= 1 and math.isfinite(qv.value):
            _emit(out, f"{name}:{quantile_name(qv.quantile)}", series, qv.value, timestamp, ctx)


def _histogram(
    name: str,
    kind: str,
    temporality: int,
    dp: Any,
    base: LabelSets,
    ctx: DecodeContext,
    out: Decoded,
) -> None:
    if dp.flags & NO_RECORDED_VALUE:
        return
    series = base.of(dp.attributes)
    t = dp.time_unix_nano / 1e9 if dp.time_unix_nano else ctx.now.timestamp()
    timestamp = nanos_to_datetime(dp.time_unix_nano, ctx.now)
    start = dp.start_time_unix_nano / 1e9
    state = _HistogramState.of(kind, dp)
    if state is None:
        out.rejected.add("invalid", f"{name}: histogram buckets are inconsistent")
        return
    if temporality == CUMULATIVE:
        key = f"{ctx.tenant}/{name}{series[1]}#{kind}"
        previous = ctx.counters.swap(key, (t, start, state))
        if previous is None:
            return
        last_t, last_start, last_state = previous
        if t <= last_t:
            ctx.counters.restore(key, previous)
            return
        interval = state.minus(last_state)
        if interval is None or (start > 0 and last_start > 0 and start != last_start):
            if not 0 < start < t:
                return  # reset without a start time: nothing to say about this interval
            interval, since = state, start
        else:
            since = last_t
        low = high = None  # min/max cover the whole cumulative period, not the interval
    else:
        interval, since = state, start
        low = dp.min if dp.HasField("min") else None
        high = dp.max if dp.HasField("max") else None
    _emit_histogram(
        name,
        series,
        timestamp,
        t - since if 0 < since < t else 0.0,
        interval,
        (low, high),
        ctx,
        out,
    )


def _emit_histogram(
    name: str,
    series: tuple[dict[str, str], str],
    timestamp: Any,
    seconds: float,
    h: _HistogramState,
    bounds: tuple[float | None, float | None],
    ctx: DecodeContext,
    out: Decoded,
) -> None:
    if seconds > 0:
        _emit(out, f"{name}_count:rate", series, h.count / seconds, timestamp, ctx)
        if h.sum is not None:
            _emit(out, f"{name}_sum:rate", series, h.sum / seconds, timestamp, ctx)
    if h.count <= 0:
        return
    if h.sum is not None:
        _emit(out, f"{name}:mean", series, h.sum / h.count, timestamp, ctx)
    try:
        segments = h.segments(*bounds)
    except ValueError as exc:
        out.rejected.add("invalid", f"{name}: {exc}")
        return
    for q in ctx.quantiles:
        value = quantile(q, segments)
        if value is not None:
            _emit(out, f"{name}:{quantile_name(q)}", series, value, timestamp, ctx)


class _HistogramState:
    """Counts of one histogram point, explicit or exponential, that can be differenced."""

    def __init__(
        self,
        count: float,
        sum_: float | None,
        *,
        scale: int | None = None,
        bounds: tuple[float, ...] = (),
        buckets: dict[int, float] | None = None,
        negative: dict[int, float] | None = None,
        zero: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.count = count
        self.sum = sum_ if sum_ is None or math.isfinite(sum_) else None
        self.scale = scale  # None: explicit bounds
        self.bounds = bounds
        self.buckets = buckets or {}  # explicit: bucket i; exponential: positive index
        self.negative = negative or {}  # exponential: negative index
        self.zero = zero  # exponential: (count, threshold)

    @classmethod
    def of(cls, kind: str, dp: Any) -> _HistogramState | None:
        sum_ = dp.sum if dp.HasField("sum") else None
        if kind == "histogram":
            counts = dp.bucket_counts
            if len(counts) != len(dp.explicit_bounds) + 1:
                counts = []  # inconsistent buckets: count, sum and mean only, no quantiles
            buckets = {i: float(c) for i, c in enumerate(counts)}
            return cls(float(dp.count), sum_, bounds=tuple(dp.explicit_bounds), buckets=buckets)
        pos, neg = dp.positive, dp.negative
        if len(pos.bucket_counts) + len(neg.bucket_counts) > MAX_BUCKETS:
            return None
        threshold = dp.zero_threshold if math.isfinite(dp.zero_threshold) else 0.0
        return cls(
            float(dp.count),
            sum_,
            scale=dp.scale,
            buckets={pos.offset + i: float(c) for i, c in enumerate(pos.bucket_counts)},
            negative={neg.offset + i: float(c) for i, c in enumerate(neg.bucket_counts)},
            zero=(float(dp.zero_count), threshold),
        )

    def minus(self, old: _HistogramState) -> _HistogramState | None:
        """The counts added since `old`; None when the series was reset or changed layout."""
        if self.count < old.count or self.bounds != old.bounds or self.scale != old.scale:
            return None  # a re-scaled exponential histogram is treated as a reset
        buckets = _subtract(self.buckets, old.buckets)
        negative = _subtract(self.negative, old.negative)
        zero_count = self.zero[0] - old.zero[0]
        if buckets is None or negative is None or zero_count < 0:
            return None
        sum_ = self.sum - old.sum if self.sum is not None and old.sum is not None else None
        return _HistogramState(
            self.count - old.count,
            sum_,
            scale=self.scale,
            bounds=self.bounds,
            buckets=buckets,
            negative=negative,
            zero=(zero_count, self.zero[1]),
        )

    def segments(self, low: float | None, high: float | None) -> list[tuple[float, float, float]]:
        """Ordered (lower, upper, count) buckets, for quantile estimation."""
        if self.scale is None:
            if not self.buckets:
                return []
            counts = [self.buckets.get(i, 0.0) for i in range(len(self.bounds) + 1)]
            return explicit_segments(self.bounds, counts, low=low, high=high)
        return exponential_segments(
            self.scale,
            self.zero[0],
            self.zero[1],
            _contiguous(self.buckets),
            _contiguous(self.negative),
        )


def _subtract(new: dict[int, float], old: dict[int, float]) -> dict[int, float] | None:
    result = dict(new)
    for index, count in old.items():
        remaining = result.get(index, 0.0) - count
        if remaining < 0:
            return None
        result[index] = remaining
    return result


def _contiguous(buckets: dict[int, float]) -> tuple[int, list[float]]:
    if not buckets:
        return 0, []
    first, last = min(buckets), max(buckets)
    return first, [buckets.get(i, 0.0) for i in range(first, last + 1)]


def _emit(
    out: Decoded,
    name: str,
    series: tuple[dict[str, str], str],
    value: float,
    timestamp: Any,
    ctx: DecodeContext,
) -> None:
    if not math.isfinite(value):
        out.rejected.add("non_finite", f"{name}: computed value {value} is not finite")
        return
    emit_point(out, ctx, name, series[0], series[1], value, timestamp)
