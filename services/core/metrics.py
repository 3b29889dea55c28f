"""Prometheus metrics shared by the services: per-process registries, bus and value collectors.

Every app gets its own `CollectorRegistry` (never the process-global one), so several apps in
one process (tests, the embedded stack) never collide. Values are read at scrape time from the
counters the components already keep (`Dispatcher.handled`, `MetricsWorker.points`, ...), so
recording costs nothing on the hot path and the components stay free of Prometheus.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.core.bus.base import Bus


def new_registry() -> CollectorRegistry:
    """A registry of its own for one app or process."""
    return CollectorRegistry(auto_describe=True)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of a registry, and its content type."""
    return bytes(generate_latest(registry)), CONTENT_TYPE_LATEST


class BusCollector(Collector):
    """Per topic and consumer group: messages handled, dead-lettered, retried; handler
    latency; consumer lag. Read from the bus's dispatchers when Prometheus scrapes."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def collect(self) -> Iterator[Metric]:
        labels = ["topic", "group"]
        handled = CounterMetricFamily(
            "vigil_bus_messages_handled", "Events handled successfully", labels=labels
        )
        dead = CounterMetricFamily(
            "vigil_bus_messages_dead_lettered", "Messages sent to the DLQ", labels=labels
        )
        retried = CounterMetricFamily(
            "vigil_bus_retries", "Handler retries after transient failures", labels=labels
        )
        latency = HistogramMetricFamily(
            "vigil_bus_handler_duration_seconds",
            "Time a handler took per message (or per batch on batched consumers)",
            labels=labels,
        )
        for group, dispatcher in self.bus.consumers():
            values = [dispatcher.topic.name, group]
            handled.add_metric(values, dispatcher.handled)
            dead.add_metric(values, dispatcher.dead_lettered)
            retried.add_metric(values, dispatcher.retries)
            latency.add_metric(values, dispatcher.latency.cumulative(), dispatcher.latency.sum)
        lag = GaugeMetricFamily(
            "vigil_bus_consumer_lag",
            "Messages published but not yet consumed (Kafka: end offset minus committed "
            "offset over assigned partitions; in memory: queue depth)",
            labels=labels,
        )
        for (topic, group), value in sorted(self.bus.consumer_lag().items()):
            lag.add_metric([topic, group], value)
        ready = GaugeMetricFamily("vigil_bus_ready", "1 when the bus is connected")
        ready.add_metric([], 1.0 if self.bus.ready() else 0.0)
        yield from (handled, dead, retried, latency, lag, ready)


@dataclass(frozen=True)
class Value:
    """One metric whose value a callback reads at scrape time."""

    name: str
    help: str
    read: Callable[[], float]
    kind: Literal["counter", "gauge"] = "counter"


class ValuesCollector(Collector):
    """Exposes `Value`s: counters and gauges a component already keeps."""

    def __init__(self, values: Iterable[Value]) -> None:
        self.values = list(values)

    def collect(self) -> Iterator[Metric]:
        for value in self.values:
            family: Metric
            if value.kind == "counter":
                family = CounterMetricFamily(value.name, value.help)
            else:
                family = GaugeMetricFamily(value.name, value.help)
            family.add_metric([], float(value.read()))
            yield family


class Forwarded(Collector):
    """Exposes another registry's metrics through this one (one /metrics per process)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterable[Metric]:
        yield from self.source.collect()


def register_values(registry: CollectorRegistry, values: Iterable[Value]) -> None:
    """Add callback-read values to a registry."""
    registry.register(ValuesCollector(values))


def metrics_endpoint(registry: CollectorRegistry) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint serving `registry` in the text exposition format."""

    async def endpoint(_: Request) -> Response:
        body, content_type = await run_in_threadpool(render, registry)  # may query the db
        return Response(body, media_type=content_type)

    return endpoint


def ops_app(registry: CollectorRegistry, ready: Callable[[], bool]) -> Starlette:
    """/healthz, /readyz and /metrics, for a service that serves no other HTTP."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok = ready()
        return JSONResponse({"ready": ok, "bus": ok}, status_code=200 if ok else 503)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(registry)),
        ]
    )
