"""Latency, errors and traffic of one (service, operation), window by window. Pure domain.

Spans of a window go into a `QuantileSketch`; when the window closes, its p50 and p99, its
error rate and its span count are judged against exponentially weighted baselines:

- **latency**: log p50 or log p99 at least `latency_z` deviations and `latency_ratio` times
  above its baseline (a slow median, or a slow tail once a window has enough spans for its
  p99 to be more than its maximum);
- **errors**: the window's error rate at least `error_delta` above the baseline rate and
  improbable for a binomial draw at that rate (`error_z`);
- **traffic**: the span count dropped by 90 % or more (a caller stopped calling, or the
  service stopped answering), judged by `RateBaseline`.

Each signal fires after `fire_after` shifted windows and resolves after `resolve_after`
normal ones. A decayed long-run sketch answers "what are p50 and p99 lately" at any time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from services.detect.logs.rates import RateBaseline, RatePolicy
from services.detect.traces.sketch import QuantileSketch

_LOG_FLOOR = 0.05**2  # variance floor of log latency: +-5 % is never surprising


@dataclass(frozen=True)
class TracePolicy:
    """Tuning of the trace detectors; the defaults are the benchmarked ones."""

    window_s: float = 10.0
    min_spans: int = 5  # spans a window needs before its latency and errors are judged
    p99_min_spans: int = 40  # ... and before its p99 is (below that, p99 is just the maximum)
    min_windows: int = 30  # judged windows of history before anything fires
    alpha: float = 0.05  # error-rate baseline learning rate per window (~20 windows)
    latency_alpha: float = 0.02  # latency baselines learn slower (~50 windows): creeping
    # slowdowns (a leak, a filling disk) must not be learned as normal before they are seen
    frozen_alpha: float = 0.002  # ... while a signal fires
    latency_z: float = 4.0
    latency_ratio: float = 1.5
    error_z: float = 4.0
    error_delta: float = 0.05
    min_errors: int = 3
    fire_after: int = 2
    resolve_after: int = 3
    traffic: RatePolicy = field(
        default_factory=lambda: RatePolicy(
            up=False,
            z=3.0,
            down_factor=0.1,
            down_min_mean=8.0,
            down_p=0.005,
            min_windows=12,
            fire_after=2,
            resolve_after=2,
        )
    )
    recent_decay: float = 0.97  # long-run sketch fading per window (half-life ~23 windows)
    max_services: int = 10_000
    max_operations: int = 500  # per service; least recently seen are dropped past this


class Flag:
    """Firing state with hysteresis: fire after n shifted windows, resolve after m normal."""

    __slots__ = ("firing", "streak")

    def __init__(self, firing: bool = False, streak: int = 0) -> None:
        self.firing = firing
        self.streak = streak

    def update(self, shifted: bool, fire_after: int, resolve_after: int) -> str | None:
        """Feed one judged window; returns "firing", "resolved" or None."""
        if shifted == self.firing:
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < (resolve_after if self.firing else fire_after):
            return None
        self.firing, self.streak = not self.firing, 0
        return "firing" if self.firing else "resolved"


@dataclass(frozen=True)
class WindowReport:
    """What one closed window showed, and which signals changed state."""

    spans: int
    errors: int
    p50: float
    p99: float
    expected_p50: float
    expected_p99: float
    error_rate: float
    expected_error_rate: float
    expected_spans: float
    latency: str | None = None  # transitions
    errors_transition: str | None = None
    traffic: str | None = None


@dataclass(eq=False)
class OperationStats:
    """Everything remembered about one (service, operation)."""

    peer: str | None = None  # the service a client operation calls (`peer.service`)
    window: QuantileSketch = field(default_factory=QuantileSketch)
    spans: int = 0  # in the current window
    errors: int = 0
    last_seen: float = 0.0
    recent: QuantileSketch = field(default_factory=QuantileSketch)
    log_p50: float = 0.0  # baselines of log latency (EW mean and variance)
    var_p50: float = 0.0
    log_p99: float = 0.0
    var_p99: float = 0.0
    error_rate: float = 0.0  # baseline error rate
    judged: int = 0  # windows judged so far
    latency: Flag = field(default_factory=Flag)
    failing: Flag = field(default_factory=Flag)
    traffic: RateBaseline = field(default_factory=RateBaseline)

    def add(self, duration_ms: float, error: bool, ts: float) -> None:
        """Count one span in the current window."""
        self.window.add(duration_ms)
        self.spans += 1
        if error:
            self.errors += 1
        self.last_seen = ts

    def quantiles(self) -> tuple[float, float]:
        """Recent p50 and p99 latency (ms), from the decayed long-run sketch and this window."""
        merged = QuantileSketch.from_list(self.recent.to_list())
        merged.merge(self.window)
        p50, p99 = merged.quantiles((0.5, 0.99))
        return p50, p99

    def close(self, policy: TracePolicy) -> WindowReport:
        """Judge the window that just ended, learn from it and start a new one."""
        spans, errors = self.spans, self.errors
        p50, p99 = self.window.quantiles((0.5, 0.99)) if spans else (math.nan, math.nan)
        expected = (math.exp(self.log_p50), math.exp(self.log_p99), self.error_rate)
        traffic = self.traffic.judge(spans, policy.traffic).transition
        latency = failing = None
        if spans >= policy.min_spans:
            latency, failing = self._judge(spans, errors, p50, p99, policy)
        report = WindowReport(
            spans=spans,
            errors=errors,
            p50=p50,
            p99=p99,
            expected_p50=expected[0],
            expected_p99=expected[1],
            error_rate=errors / spans if spans else 0.0,
            expected_error_rate=expected[2],
            expected_spans=self.traffic.mean,
            latency=latency,
            errors_transition=failing,
            traffic=traffic,
        )
        self.recent.decay(policy.recent_decay)
        self.recent.merge(self.window)
        self.window.clear()
        self.spans = self.errors = 0
        return report

    def _judge(
        self, spans: int, errors: int, p50: float, p99: float, policy: TracePolicy
    ) -> tuple[str | None, str | None]:
        l50, l99 = math.log(max(p50, 1e-6)), math.log(max(p99, 1e-6))
        rate = errors / spans
        warm = self.judged >= policy.min_windows
        slow = warm and (
            _shifted(l50, self.log_p50, self.var_p50, policy)
            or (spans >= policy.p99_min_spans and _shifted(l99, self.log_p99, self.var_p99, policy))
        )
        base = self.error_rate
        spread = math.sqrt(max(base, 0.002) * (1 - min(base, 0.999)) / spans)
        failing = (
            warm
            and errors >= policy.min_errors
            and rate - base >= policy.error_delta
            and (rate - base) / spread >= policy.error_z
        )
        latency = self.latency.update(slow, policy.fire_after, policy.resolve_after)
        errors_transition = self.failing.update(failing, policy.fire_after, policy.resolve_after)
        # Learn only from unsuspicious windows: a slowdown creeping up must not drag the
        # baseline (and its spread) along until it no longer looks unusual.
        suspicious = slow or self.latency.firing or _z(l50, self.log_p50, self.var_p50) > 3.0
        alpha = policy.frozen_alpha if suspicious else policy.latency_alpha
        if self.judged < policy.min_windows:
            alpha = 1.0 / (self.judged + 1)
        self.log_p50, self.var_p50 = _learn(self.log_p50, self.var_p50, l50, alpha)
        self.log_p99, self.var_p99 = _learn(self.log_p99, self.var_p99, l99, alpha)
        alpha = policy.frozen_alpha if (failing or self.failing.firing) else policy.alpha
        if self.judged < policy.min_windows:
            alpha = 1.0 / (self.judged + 1)
        self.error_rate += alpha * (rate - self.error_rate)
        self.judged += 1
        return latency, errors_transition

    # -- checkpoints -------------------------------------------------------------------------

    def to_list(self) -> list[Any]:
        return [
            self.window.to_list(),
            self.spans,
            self.errors,
            self.last_seen,
            self.recent.to_list(),
            [self.log_p50, self.var_p50, self.log_p99, self.var_p99, self.error_rate],
            self.judged,
            [self.latency.firing, self.latency.streak, self.failing.firing, self.failing.streak],
            self.traffic.to_list(),
            self.peer,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> OperationStats:
        stats = cls(
            window=QuantileSketch.from_list(data[0]),
            spans=int(data[1]),
            errors=int(data[2]),
            last_seen=float(data[3]),
            recent=QuantileSketch.from_list(data[4]),
            judged=int(data[6]),
            traffic=RateBaseline.from_list(data[8]),
            peer=None if data[9] is None else str(data[9]),
        )
        stats.log_p50, stats.var_p50, stats.log_p99, stats.var_p99, stats.error_rate = (
            float(v) for v in data[5]
        )
        flags = data[7]
        stats.latency = Flag(bool(flags[0]), int(flags[1]))
        stats.failing = Flag(bool(flags[2]), int(flags[3]))
        return stats


def _z(value: float, mean: float, var: float) -> float:
    return (value - mean) / math.sqrt(var + _LOG_FLOOR)


def _shifted(value: float, mean: float, var: float, policy: TracePolicy) -> bool:
    return (
        value - mean >= math.log(policy.latency_ratio) and _z(value, mean, var) >= policy.latency_z
    )


def _learn(mean: float, var: float, value: float, alpha: float) -> tuple[float, float]:
    delta = value - mean
    return mean + alpha * delta, (1 - alpha) * (var + alpha * delta * delta)
