"""Quantiles estimated from histogram buckets (explicit and exponential). Pure functions.

A histogram is turned into ordered segments `(lower, upper, count)`; a quantile is found by
walking the cumulative count and interpolating linearly inside the bucket that holds it, as
Prometheus' `histogram_quantile` does. Open-ended buckets are closed with the recorded min/max
when known, else the quantile is the bucket's finite bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Segment = tuple[float, float, float]  # lower, upper, count

MAX_BUCKETS = 16_384


def explicit_segments(
    bounds: Sequence[float], counts: Sequence[float], *, low: float | None, high: float | None
) -> list[Segment]:
    """Segments of an explicit-bounds histogram: (-inf, b0], (b0, b1], ..., (bn-1, +inf)."""
    if len(counts) != len(bounds) + 1:
        raise ValueError(f"{len(counts)} bucket counts for {len(bounds)} bounds")
    if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
        raise ValueError("explicit bounds must increase strictly")
    if not bounds:
        return [(_finite(low, -math.inf), _finite(high, math.inf), float(counts[0]))]
    first_low = low if low is not None else (0.0 if bounds[0] > 0 else -math.inf)
    segments = [(first_low, float(bounds[0]), float(counts[0]))]
    segments += [
        (float(bounds[i - 1]), float(bounds[i]), float(counts[i])) for i in range(1, len(bounds))
    ]
    segments.append((float(bounds[-1]), _finite(high, math.inf), float(counts[-1])))
    return segments


def exponential_segments(
    scale: int,
    zero_count: float,
    zero_threshold: float,
    positive: tuple[int, Sequence[float]],
    negative: tuple[int, Sequence[float]],
) -> list[Segment]:
    """Segments of an exponential histogram: bucket i covers (base^i, base^(i+1)]."""
    if not -10 <= scale <= 20:
        raise ValueError(f"scale {scale} is out of range")
    pos_offset, pos_counts = positive
    neg_offset, neg_counts = negative
    if len(pos_counts) + len(neg_counts) > MAX_BUCKETS:
        raise ValueError(f"more than {MAX_BUCKETS} buckets")
    segments: list[Segment] = []
    for i in range(len(neg_counts) - 1, -1, -1):
        index = neg_offset + i
        segments.append((-_power(index + 1, scale), -_power(index, scale), float(neg_counts[i])))
    if zero_count:
        segments.append((-zero_threshold, zero_threshold, float(zero_count)))
    for i, count in enumerate(pos_counts):
        index = pos_offset + i
        segments.append((_power(index, scale), _power(index + 1, scale), float(count)))
    return segments


def quantile(q: float, segments: Sequence[Segment]) -> float | None:
    """The q-quantile of the distribution the segments describe, or None if it is empty."""
    total = sum(count for _, _, count in segments)
    if total <= 0 or not math.isfinite(total):
        return None
    rank = q * total
    seen = 0.0
    for lower, upper, count in segments:
        if count <= 0:
            continue
        if seen + count >= rank:
            if math.isinf(lower) and math.isinf(upper):
                return None
            if math.isinf(lower):
                return upper
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    last = [s for s in segments if s[2] > 0][-1]
    return last[0] if math.isinf(last[1]) else last[1]


def quantile_name(q: float) -> str:
    """`p50` for 0.5, `p99.9` for 0.999."""
    return "p" + format(round(q * 100, 6), "g")


def _finite(value: float | None, default: float) -> float:
    return value if value is not None and math.isfinite(value) else default


def _power(index: int, scale: int) -> float:
    """base^index for base = 2^(2^-scale), saturating instead of overflowing."""
    try:
        return float(2.0 ** (index * 2.0**-scale))
    except OverflowError:
        return math.inf
