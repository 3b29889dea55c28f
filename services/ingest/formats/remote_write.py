"""Prometheus remote_write 1.0 (a WriteRequest, snappy-decompressed by the caller) -> points.

`__name__` is the metric name and the other labels are the labels (empty values dropped, as
Prometheus treats them as absent). Counters become per-second rates named `name:rate`, like
OTLP counters: a series is a counter when the request's metadata says COUNTER (or HISTOGRAM /
SUMMARY for its `_count`, `_sum` and `_bucket` series), or when its name ends with one of the
configured counter suffixes (`_total`, `_count`, `_sum`, `_bucket`). Everything else is a gauge.
Staleness markers (a special NaN) are dropped and counted; native histograms are refused.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError

from services.ingest.formats import (
    DecodeContext,
    Decoded,
    DecodeError,
    check_items,
    emit_point,
    label_block,
)
from services.ingest.formats.prompb import COUNTER, HISTOGRAM, SUMMARY, WriteRequest

STALE_NAN_BITS = 0x7FF0000000000002
_FAMILY_SUFFIXES = ("_count", "_sum", "_bucket")


def decode(body: bytes, context: DecodeContext) -> Decoded:
    """Decode an uncompressed WriteRequest."""
    try:
        request = WriteRequest.FromString(body)
    except (ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise DecodeError("body", f"not a valid prometheus WriteRequest ({exc})") from None
    return decode_request(request, context)


def decode_request(request: Any, context: DecodeContext) -> Decoded:
    """Normalise a parsed WriteRequest."""
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


def _series(index: int, series: Any, counters: set[str], ctx: DecodeContext, out: Decoded) -> None:
    labels = {label.name: label.value for label in series.labels if label.value}
    name = labels.pop("__name__", "")
    if series.histograms:
        out.rejected.add(
            "unsupported", "native histograms are not supported", len(series.histograms)
        )
    if not name:
        out.rejected.add(
            "invalid", f"timeseries[{index}].labels: no __name__ label", len(series.samples)
        )
        return
    is_counter = name in counters or name.endswith(ctx.counter_suffixes)
    block = label_block(labels)
    emitted_name = name + ":rate" if is_counter else name
    for sample in series.samples:
        value = sample.value
        if not math.isfinite(value):
            if math.isnan(value) and _bits(value) == STALE_NAN_BITS:
                out.rejected.add("stale_marker", f"{name}: staleness marker")
            else:
                out.rejected.add("non_finite", f"{name}: value {value} is not finite")
            continue
        ms = sample.timestamp
        try:
            timestamp = datetime.fromtimestamp(ms / 1000, UTC) if ms > 0 else ctx.now
        except (OverflowError, OSError, ValueError):
            out.rejected.add("invalid", f"timeseries[{index}].samples: timestamp {ms} out of range")
            continue
        if is_counter:
            t = ms / 1000 if ms > 0 else ctx.now.timestamp()
            rate = ctx.counters.rate(f"{ctx.tenant}/{name}{block}", t, value)
            if rate is None:
                continue
            value = rate
        emit_point(out, ctx, emitted_name, labels, block, value, timestamp)


def _bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])
