from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.core.events import Anomaly, Span
from services.detect.traces.monitor import TracesMonitor

START = datetime(2026, 1, 1, tzinfo=UTC)


class Traffic:
    """Two services, frontend -> cart, with a client call from cart to its database."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.ids = 0

    def _id(self) -> str:
        self.ids += 1
        return f"{self.ids:016x}"

    def second(
        self,
        t: int,
        *,
        cart_ms: Callable[[], float] | None = None,
        cart_fails: float = 0.002,
        cart_down: bool = False,
        db_ms: float = 3.0,
    ) -> list[Span]:
        spans: list[Span] = []
        for i in range(6):
            start = START + timedelta(seconds=t + i / 6)
            trace, root = f"{self._id():0>32}", self._id()
            total = 5.0 * self.rng.lognormvariate(0, 0.2)
            failed = False
            if not cart_down:
                db = db_ms * self.rng.lognormvariate(0, 0.2)
                own = cart_ms() if cart_ms else 4.0 * self.rng.lognormvariate(0, 0.2)
                failed = self.rng.random() < cart_fails
                cart = self._id()
                spans.append(
                    self._span(trace, self._id(), cart, "cart", "cart db", start, db, peer="db")
                )
                spans.append(
                    self._span(
                        trace, cart, root, "cart", "GET /cart", start, own + db, error=failed
                    )
                )
                total += own + db
            spans.append(
                self._span(
                    trace, root, None, "frontend", "GET /", start, total, error=failed or cart_down
                )
            )
        return spans

    def _span(
        self,
        trace: str,
        span_id: str,
        parent: str | None,
        service: str,
        operation: str,
        start: datetime,
        ms: float,
        *,
        error: bool = False,
        peer: str | None = None,
    ) -> Span:
        return Span(
            trace_id=trace,
            span_id=span_id,
            parent_span_id=parent,
            service=service,
            operation=operation,
            start=start,
            duration_ms=ms,
            error=error,
            attributes={"peer.service": peer} if peer else {},
        )


def run(monitor: TracesMonitor, traffic: Traffic, seconds: range, **kw: object) -> list[Anomaly]:
    out: list[Anomaly] = []
    for t in seconds:
        for span in traffic.second(t, **kw):  # type: ignore[arg-type]
            out += monitor.observe(span)
    return out


def firing(out: list[Anomaly]) -> set[tuple[str, str]]:
    return {(a.service, a.detector) for a in out if a.status == "firing"}


def test_steady_traffic_raises_nothing_and_quantiles_are_tracked() -> None:
    monitor, traffic = TracesMonitor(), Traffic()
    assert run(monitor, traffic, range(900)) == []
    p50, p99 = monitor.quantiles("cart", "GET /cart")
    assert 5.0 < p50 < 9.0 < p99 < 20.0


def test_a_slow_service_fires_a_latency_anomaly_explaining_p50_and_p99() -> None:
    monitor, traffic = TracesMonitor(), Traffic()
    run(monitor, traffic, range(900))
    out = run(monitor, traffic, range(900, 960), cart_ms=lambda: 120.0)
    assert ("cart", "trace_latency") in firing(out)
    anomaly = next(a for a in out if a.service == "cart" and a.detector == "trace_latency")
    assert anomaly.kind == "trace" and anomaly.labels["operation"] == "GET /cart"
    assert anomaly.explanation is not None
    assert "p99" in anomaly.explanation.detail and "p50" in anomaly.explanation.detail
    assert anomaly.explanation.observed > 100.0 > anomaly.explanation.expected
    back = run(monitor, traffic, range(960, 1100))
    assert any(a.status == "resolved" and a.detector == "trace_latency" for a in back)


def test_a_failing_service_fires_an_error_rate_anomaly() -> None:
    monitor, traffic = TracesMonitor(), Traffic()
    run(monitor, traffic, range(900))
    out = run(monitor, traffic, range(900, 960), cart_fails=0.5)
    assert ("cart", "trace_errors") in firing(out)


def test_a_service_that_stops_sending_spans_fires_a_traffic_anomaly() -> None:
    monitor, traffic = TracesMonitor(), Traffic()
    run(monitor, traffic, range(900))
    out = run(monitor, traffic, range(900, 960), cart_down=True)
    assert ("cart", "trace_traffic") in firing(out)


def test_a_slow_database_is_reported_for_the_database_not_its_caller() -> None:
    monitor, traffic = TracesMonitor(), Traffic()
    run(monitor, traffic, range(900))
    out = run(monitor, traffic, range(900, 960), db_ms=150.0)
    db = [a for a in out if a.service == "db" and a.detector == "trace_latency"]
    assert db and db[0].labels["caller"] == "cart"


def test_the_dependency_graph_is_kept_per_tenant() -> None:
    monitor, traffic = TracesMonitor(), Traffic()
    run(monitor, traffic, range(30))
    assert monitor.graphs["default"].callees() == {"frontend": {"cart"}, "cart": {"db"}}


def test_state_survives_a_restart_through_the_checkpoint() -> None:
    first, traffic = TracesMonitor(), Traffic()
    run(first, traffic, range(900))
    second = TracesMonitor()
    for key in ("default/cart", "default/frontend"):
        blob = first.snapshot(key)
        assert blob is not None and second.restore(key, blob)
    # Warm at once: no need to re-learn before a slowdown is seen.
    out = run(second, traffic, range(900, 960), cart_ms=lambda: 120.0)
    assert ("cart", "trace_latency") in firing(out)
    assert not second.restore("default/cart", b"garbage")
