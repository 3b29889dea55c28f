"""Turn a `Scenario` into telemetry, second by second: spans, log records, metric points.

Pure and seeded: the same scenario always yields the same events (ids included). Requests
arrive as a Poisson stream with a gentle hourly swell; each walks its call tree
(`model.ENDPOINTS`), every service adding its own lognormal work time, rare hiccups and rare
errors; a failed call fails its caller most of the time. Services log an access line per
request, some chatter, warnings for slow requests and GC pauses, and errors; every ten seconds
each service reports request rate, p95 latency, error ratio, CPU and memory.

The first five minutes stand for the long history a real installation has seen: services
start cold, with errors, hiccups and GC pauses far more likely, so every everyday template
(warnings and errors included) is written before the detectors' warm-up ends, and later only
faults bring templates never seen before. Metrics are
computed the way a Prometheus query would over the last minute (`rate(...[1m])`,
`histogram_quantile(0.95, ...[1m])`), so they are as smooth as a real dashboard's. Errors are
left to spans and logs, where counts are exact (a ratio of a handful of requests is noise),
and so is latency unless the scenario asks for a p95 metric too (`latency_metrics`).
"""

from __future__ import annotations

import math
import random
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.core.events import LogRecord, MetricPoint, Severity, Span
from services.demo.scenarios import benign, model
from services.demo.scenarios.faults import Fault, FaultKind, Scenario

METRIC_STEP_S = 10
COLD_S = 300.0
COLD_FACTOR = 15.0
METRIC_WINDOW_S = 60
COUNTRIES = ("de", "fr", "it", "es", "nl", "pl")
USERS = ("ana", "ben", "chen", "dara", "eli", "femi", "gus", "hana")


@dataclass
class Tick:
    """The telemetry of one simulated second."""

    second: int
    at: datetime
    spans: list[Span] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)


@dataclass
class _Window:
    """Per-service request statistics of the current metric window."""

    durations: list[float] = field(default_factory=list)
    errors: int = 0


def _expected_ms(call: model.Call) -> float:
    return model.OWN_MS[call.service] + sum(_expected_ms(c) for c in call.calls)


class ScenarioRun:
    """Generates a scenario's telemetry; iterate `ticks()` once, in order."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.rng = random.Random(f"{scenario.name}/{scenario.seed}")
        self._ids = 0
        self._windows: dict[str, _Window] = {s: _Window() for s in model.SERVICES}
        self._typical = {
            (call.service, call.operation): _expected_ms(call)
            for _, root in model.ENDPOINTS
            for call in _walk(root)
        }
        self._typical_ms = {
            service: max(t for (s, _), t in self._typical.items() if s == service)
            for service in model.INSTRUMENTED
        }
        self._typical_ms[model.DATABASE] = model.OWN_MS[model.DATABASE]
        self._recent: dict[str, deque[_Window]] = {
            s: deque(maxlen=METRIC_WINDOW_S // METRIC_STEP_S) for s in model.SERVICES
        }
        self._tick: Tick | None = None
        self._t = 0.0  # seconds into the run of the tick being generated

    # -- public ------------------------------------------------------------------------------

    def ticks(self) -> Iterator[Tick]:
        """One `Tick` per simulated second, from the first to the last."""
        for second in range(self.scenario.duration_s):
            yield self.tick(second)

    def tick(self, second: int) -> Tick:
        """The telemetry of second `second` (call in increasing order)."""
        self._t = float(second)
        tick = self._tick = Tick(second, self._at(second))
        if second == 0:
            self._startup_lines()
        swell = 1.0 + 0.15 * math.sin(2 * math.pi * second / 3600.0)
        arrivals = _poisson(self.rng, self.scenario.rate * swell)
        offsets = sorted(self.rng.random() for _ in range(arrivals))
        for offset in offsets:
            root = _choose(self.rng, model.ENDPOINTS)
            self._serve(root, second + offset, f"{self._next_id():032x}", None)
        for fault in self.active(second):
            if fault.kind is FaultKind.BAD_DEPLOY and second == int(fault.start_s):
                self._log(
                    fault.service, second + 0.5, Severity.INFO, model.DEPLOY_LINE, version="2.4.0"
                )
        for event in benign.deploy_starts(self.scenario.benign, second):
            self._log(
                event.service, second + 0.5, Severity.INFO, model.DEPLOY_LINE, version="2.3.9"
            )
        if (second + 1) % METRIC_STEP_S == 0:
            self._metrics(second + 1)
        tick.spans.sort(key=lambda s: s.start.timestamp() + s.duration_ms / 1000)
        tick.logs.sort(key=lambda r: r.timestamp)
        return tick

    def active(self, t: float) -> list[Fault]:
        """Faults on at `t` seconds into the run."""
        return [f for f in self.scenario.faults if f.active(t)]

    # -- requests ----------------------------------------------------------------------------

    def _serve(
        self, call: model.Call, start: float, trace_id: str, parent: str | None
    ) -> tuple[float, bool]:
        """Run one operation and its calls from `start` (s); returns (end, failed)."""
        service = call.service
        span_id = f"{self._next_id():016x}"
        own = self._own_ms(service)
        t = start + own / 2000.0
        failed_call: tuple[str, str] | None = None  # (callee, how)
        for child in call.calls:
            if self._down(child.service) or child.service == model.DATABASE:
                duration, failed = self._client_call(service, child, t, trace_id, span_id)
                t += duration / 1000.0
                how = "connect" if self._down(child.service) else "db"
            else:
                end, failed = self._serve(child, t, trace_id, span_id)
                t, how = end, "upstream"
            if failed and failed_call is None and self.rng.random() < model.PROPAGATE:
                failed_call = (child.service, how)
        t += own / 2000.0
        own_error = self.rng.random() < self._error_rate(service)
        failed = own_error or failed_call is not None
        duration_ms = (t - start) * 1000.0
        assert self._tick is not None
        self._tick.spans.append(
            Span(
                id=f"s{span_id}",
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                service=service,
                operation=call.operation,
                start=self._at(start),
                duration_ms=round(duration_ms, 3),
                error=failed,
                tenant=self.scenario.tenant,
            )
        )
        window = self._windows[service]
        window.durations.append(duration_ms)
        window.errors += failed
        self._request_logs(call, t, duration_ms, own_error, failed_call, trace_id)
        return t, failed

    def _client_call(
        self, service: str, child: model.Call, t: float, trace_id: str, parent: str
    ) -> tuple[float, bool]:
        """A call recorded by the caller only: to the database, or to a service that is down."""
        down = self._down(child.service)
        if down:
            duration, failed = self.rng.uniform(0.5, 3.0), True
        else:
            duration = self._own_ms(child.service)
            failed = self.rng.random() < self._error_rate(child.service)
            window = self._windows[child.service]
            window.durations.append(duration)
            window.errors += failed
        span_id = f"{self._next_id():016x}"
        assert self._tick is not None
        self._tick.spans.append(
            Span(
                id=f"s{span_id}",
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                service=service,
                operation=f"{child.service} {child.operation}",
                start=self._at(t),
                duration_ms=round(duration, 3),
                error=failed,
                attributes={"peer.service": child.service, "span.kind": "client"},
                tenant=self.scenario.tenant,
            )
        )
        return duration, failed

    # -- fault effects -----------------------------------------------------------------------

    def _down(self, service: str) -> bool:
        return any(
            f.kind is FaultKind.DEPENDENCY_OUTAGE and f.service == service
            for f in self.active(self._t)
        )

    def _own_ms(self, service: str) -> float:
        base = model.OWN_MS[service]
        ms = base * math.exp(self.rng.gauss(0.0, 0.3))
        if self.rng.random() < (0.05 if self._t < COLD_S else 0.001):
            ms += 6.0 * self._typical_ms[service]  # a hiccup: pause, retransmit, cold cache
        for fault in self.active(self._t):
            if fault.service != service:
                continue
            if fault.kind is FaultKind.LEAF_LATENCY:
                ms = ms * 5.0 + 120.0 * math.exp(self.rng.gauss(0.0, 0.3))
            elif fault.kind is FaultKind.MEMORY_LEAK:
                ms *= 1.0 + 3.0 * self._progress(fault)
        return ms

    def _error_rate(self, service: str) -> float:
        rate = model.BASE_ERROR * (COLD_FACTOR if self._t < COLD_S else 1.0)
        for fault in self.active(self._t):
            if fault.service == service and fault.kind is FaultKind.ERROR_BURST:
                rate = 0.3
            elif fault.service == service and fault.kind is FaultKind.BAD_DEPLOY:
                rate = 0.15
        return rate

    def _progress(self, fault: Fault) -> float:
        return (self._t - fault.start_s) / max(fault.end_s - fault.start_s, 1.0)

    def _bad_deploy(self, service: str) -> bool:
        return any(
            f.kind is FaultKind.BAD_DEPLOY and f.service == service for f in self.active(self._t)
        )

    def _leaking(self, service: str) -> Fault | None:
        for fault in self.active(self._t):
            if fault.kind is FaultKind.MEMORY_LEAK and fault.service == service:
                return fault
        return None

    # -- logs --------------------------------------------------------------------------------

    def _request_logs(
        self,
        call: model.Call,
        t: float,
        duration_ms: float,
        own_error: bool,
        failed_call: tuple[str, str] | None,
        trace_id: str,
    ) -> None:
        service, rng = call.service, self.rng
        method, _, path = call.operation.partition(" ")
        path = path.replace("{id}", str(rng.randint(1, 5000))).replace(
            "{sku}", f"SKU-{rng.randint(100, 999)}"
        )
        failed = own_error or failed_call is not None
        self._log(
            service,
            t,
            Severity.ERROR if failed else Severity.INFO,
            model.ACCESS,
            method=method,
            path=path,
            status=500 if failed else 200,
            ms=round(duration_ms),
            trace=trace_id,
        )
        if rng.random() < 0.5:
            self._log(
                service,
                t,
                Severity.INFO,
                rng.choice(model.INFO_LINES[service]),
                **self._slots(path),
            )
        if own_error:
            if self._bad_deploy(service):
                template = model.BAD_DEPLOY_ERRORS[self._ids % len(model.BAD_DEPLOY_ERRORS)]
            else:
                template = model.OWN_ERRORS[service]
            self._log(service, t, Severity.ERROR, template, **self._slots(path))
        elif failed_call is not None:
            callee, how = failed_call
            template = {
                "connect": model.CONNECT_ERROR,
                "db": model.DB_ERROR,
                "upstream": model.UPSTREAM_ERROR,
            }[how]
            self._log(service, t, Severity.ERROR, template, callee=callee)
        if duration_ms > model.SLOW_FACTOR * self._typical[(service, call.operation)]:
            self._log(
                service,
                t,
                Severity.WARNING,
                model.SLOW_WARNING,
                operation=call.operation,
                ms=round(duration_ms),
            )
        leak = self._leaking(service)
        gc_chance = 0.05 if self._t < COLD_S else 0.003
        if leak is not None:
            gc_chance += 0.3 * self._progress(leak)
        if rng.random() < gc_chance:
            self._log(
                service,
                t,
                Severity.WARNING,
                model.GC_WARNING,
                ms=rng.randint(40, 400),
                heap=round(self._memory(service) / 2**20),
            )

    def _slots(self, path: str) -> dict[str, object]:
        rng = self.rng
        return {
            "path": path,
            "session": f"{rng.getrandbits(48):012x}",
            "ms": rng.randint(1, 40),
            "item": rng.randint(1, 5000),
            "sku": f"SKU-{rng.randint(100, 999)}",
            "n": rng.randint(1, 9),
            "order": f"ord-{rng.randint(10**5, 10**6)}",
            "user": rng.choice(USERS),
            "cart": f"c{rng.randint(1000, 9999)}",
            "card": rng.randint(1000, 9999),
            "amount": f"{rng.uniform(5, 500):.2f}",
            "payment": f"pay_{rng.getrandbits(40):010x}",
            "country": rng.choice(COUNTRIES),
            "code": rng.choice((51, 54, 61, 91)),
            "handler": rng.choice(("PriceHandler", "OrderHandler")),
            "line": rng.randint(40, 400),
        }

    def _log(
        self, service: str, t: float, severity: Severity, template: str, **slots: object
    ) -> None:
        assert self._tick is not None
        self._tick.logs.append(
            LogRecord(
                id=f"l{self._next_id():016x}",
                timestamp=self._at(t),
                service=service,
                severity=severity,
                body=template.format(**slots),
                attributes={"trace_id": str(slots["trace"])} if "trace" in slots else {},
                tenant=self.scenario.tenant,
            )
        )

    def _startup_lines(self) -> None:
        for service in model.INSTRUMENTED:
            self._log(
                service,
                0.0,
                Severity.INFO,
                model.DEPLOY_LINE,
                version=f"2.3.{self.rng.randint(0, 9)}",
            )

    # -- metrics -----------------------------------------------------------------------------

    def _memory(self, service: str) -> float:
        base = 300.0 * 2**20 * (1 + (zlib.crc32(service.encode()) % 7) / 10)
        leak = self._leaking(service)
        if leak is not None:
            base *= 1.0 + 0.8 * self._progress(leak)
        return base

    def _metrics(self, second: int) -> None:
        assert self._tick is not None
        at = self._at(second)
        for service in model.SERVICES:
            recent = self._recent[service]
            recent.append(self._windows[service])
            self._windows[service] = _Window()
            if self._down(service):
                continue
            durations = [d for w in recent for d in w.durations]
            requests = len(durations)
            seconds = METRIC_STEP_S * len(recent)
            p95 = _percentile(durations, 0.95)
            leak = self._leaking(service)
            gc = 0.15 * self._progress(leak) if leak is not None else 0.0
            values = {
                "http_requests_per_second": requests / seconds,
                "http_request_duration_p95_ms": p95,
                "cpu_utilization": 0.12 + 0.02 * requests / seconds + gc + self.rng.gauss(0, 0.008),
                "memory_bytes": self._memory(service) * (1 + self.rng.gauss(0, 0.004)),
            }
            benign.adjust(self.scenario.benign, service, second, values)
            for name, value in values.items():
                if name == "http_request_duration_p95_ms" and not (
                    requests and self.scenario.latency_metrics
                ):
                    continue
                self._tick.metrics.append(
                    MetricPoint(
                        id=f"m{self._next_id():016x}",
                        name=name,
                        labels={"service": service},
                        value=round(max(value, 0.0), 6),
                        timestamp=at,
                        tenant=self.scenario.tenant,
                    )
                )

    # -- helpers -----------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids + (self.scenario.seed << 40)

    def _at(self, t: float) -> datetime:
        return self.scenario.start + timedelta(seconds=t)


def _walk(call: model.Call) -> Iterator[model.Call]:
    yield call
    for child in call.calls:
        yield from _walk(child)


def _choose(rng: random.Random, weighted: tuple[tuple[float, model.Call], ...]) -> model.Call:
    pick = rng.random() * sum(w for w, _ in weighted)
    for weight, call in weighted:
        pick -= weight
        if pick <= 0:
            return call
    return weighted[-1][1]


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means of a simulated second.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
