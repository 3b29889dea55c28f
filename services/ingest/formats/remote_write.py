"""Prometheus remote_write 1.0 (a WriteRequest, snappy-decompressed by the caller) -> points.

`__name__` is the metric name and the other labels are the labels (empty values dropped, as
Prometheus treats them as absent). Counters become per-second rates named `name:rate`, like
OTLP counters: a series is a counter when the request's metadata says COUNTER (or HISTOGRAM /
SUMMARY for its `_count`, `_sum` and `_bucket` series), or when its name ends with one of the
configured counter suffixes (`_total`, `_count`, `_sum`, `_bucket`). Everything else is a gauge.
Staleness markers (a special NaN) are dropped and counted; native histograms are refused.

Series repeat at every scrape, so a series' label set is decoded once: the request is parsed
with each series' labels kept as wire bytes (`prompb.ShadowWriteRequest`), and what those bytes
mean (name, labels, label block) is cached, bounded, by the bytes themselves.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError

from services.ingest.formats import (
    MAX_NAME,
    DecodeContext,
    Decoded,
    DecodeError,
    check_items,
    label_block,
)
from services.ingest.formats.prompb import COUNTER, HISTOGRAM, SUMMARY, Label, ShadowWriteRequest
from services.ingest.formats.trusted import trusted_point

STALE_NAN_BITS = 0x7FF0000000000002
_FAMILY_SUFFIXES = ("_count", "_sum", "_bucket")


MAX_CACHED = 200_000

# raw label bytes of a series -> (metric name, labels, label block); bounded by MAX_CACHED
_series_cache: dict[tuple[bytes, ...], tuple[str, dict[str, str], str]] = {}


def decode(body: bytes, context: DecodeContext) -> Decoded:
    """Decode an uncompressed WriteRequest."""
    try:
        request = ShadowWriteRequest.FromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise DecodeError("body", f"not a valid prometheus WriteRequest ({exc})") from None
    return decode_request(request, context)


def decode_request(request: Any, context: DecodeContext) -> Decoded:
    """Normalise a parsed `ShadowWriteRequest` (series labels as wire bytes)."""
    check_items(sum(len(ts.samples) for ts in request.timeseries), context)
    counters = _counter_names(request.metadata)
    out = Decoded()
    for index, series in enumerate(request.timeseries):
        _series(index, series, counters, context, out)
    return out


def _counter_names(metadata: Any) -> set[str]:
    names: set[str] = set()
    for entry in metadata:
        family = entry.metric_family_name
        if entry.type == COUNTER:
            names.update((family, family + "_total"))
        elif entry.type in (HISTOGRAM, SUMMARY):
            names.update(family + suffix for suffix in _FAMILY_SUFFIXES)
    return names


def _series_labels(raw: tuple[bytes, ...]) -> tuple[str, dict[str, str], str]:
    """Name, labels and label block of a series' raw labels (cached; never mutate the dict)."""
    found = _series_cache.get(raw)
    if found is None:
        labels: dict[str, str] = {}
        for item in raw:
            try:
                label = Label.FromString(item)
            except (ProtobufDecodeError, RecursionError, ValueError) as exc:
                raise DecodeError("timeseries.labels", f"not a valid Label ({exc})") from None
            if label.value:
                labels[label.name] = label.value
        name = labels.pop("__name__", "")
        found = (name, labels, label_block(labels))
        if len(_series_cache) >= MAX_CACHED:
            _series_cache.clear()
        _series_cache[raw] = found
    return found


def _series(index: int, series: Any, counters: set[str], ctx: DecodeContext, out: Decoded) -> None:
    # The hot loop of remote_write: everything per series is worked out once, and points are
    # built with `trusted_point` after the checks `emit_point` would make (name length here,
    # finite values below, aware timestamps from `_timestamp`).
    name, labels, block = _series_labels(tuple(series.labels))
    samples = series.samples
    if series.histograms:
        out.rejected.add(
            "unsupported", "native histograms are not supported", len(series.histograms)
        )
    if not name:
        out.rejected.add("invalid", f"timeseries[{index}].labels: no __name__ label", len(samples))
        return
    is_counter = name in counters or name.endswith(ctx.counter_suffixes)
    emitted_name = name + ":rate" if is_counter else name
    if len(emitted_name) > MAX_NAME:
        out.rejected.add("invalid", f"{name[:80]!r}: name over {MAX_NAME} characters", len(samples))
        return
    tenant, ids, isfinite = ctx.tenant, ctx.ids, math.isfinite
    counter_key, partition_key = f"{tenant}/{name}{block}", f"{tenant}/{emitted_name}{block}"
    for sample in samples:
        value = sample.value
        if not isfinite(value):
            if math.isnan(value) and _bits(value) == STALE_NAN_BITS:
                out.rejected.add("stale_marker", f"{name}: staleness marker")
            else:
                out.rejected.add("non_finite", f"{name}: value {value} is not finite")
            continue
        ms = sample.timestamp
        timestamp = _timestamps.get(ms) or _timestamp(ms, ctx)
        if timestamp is None:
            out.rejected.add("invalid", f"timeseries[{index}].samples: timestamp {ms} out of range")
            continue
        if is_counter:
            t = ms / 1000 if ms > 0 else ctx.now.timestamp()
            rate = ctx.counters.rate(counter_key, t, value)
            if rate is None:
                continue
            if not isfinite(rate):
                out.rejected.add("non_finite", f"{name}: computed rate {rate} is not finite")
                continue
            value = rate
        out.metrics.append(trusted_point(next(ids), emitted_name, labels, value, timestamp, tenant))
        out.metric_keys.append(partition_key)


# ms timestamp -> datetime: the samples of a scrape share a handful of timestamps (bounded)
_timestamps: dict[int, datetime] = {}


def _timestamp(ms: int, ctx: DecodeContext) -> datetime | None:
    """A sample's time (now when unset), or None when out of range."""
    if ms <= 0:
        return ctx.now
    try:
        timestamp = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if len(_timestamps) >= 4096:
        _timestamps.clear()
    _timestamps[ms] = timestamp
    return timestamp


def _bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])
