"""Ingest's own Prometheus metrics, served at GET /metrics on the ingest port.

One registry per app (not the process-global one), so several apps in one process (tests,
the embedded stack) never collide.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class IngestMetrics:
    """Counters of what was accepted, rejected and shed, and request latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.accepted = Counter(
            "vigil_ingest_accepted", "Items acknowledged by Kafka", ["signal", "format"], registry=r
        )
        self.rejected = Counter(
            "vigil_ingest_rejected",
            "Items (or whole requests, signal=request) refused, by reason",
            ["signal", "reason"],
            registry=r,
        )
        self.shed = Counter(
            "vigil_ingest_shed",
            "Items dropped under load, by priority",
            ["signal", "priority"],
            registry=r,
        )
        self.protected = Counter(
            "vigil_ingest_protected",
            "Items kept flowing under load because they matter, by reason",
            ["reason"],
            registry=r,
        )
        self.requests = Counter(
            "vigil_ingest_requests",
            "HTTP requests by route and status",
            ["route", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "vigil_ingest_request_duration_seconds",
            "Time from request to answer (after Kafka acknowledged)",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge("vigil_ingest_inflight_items", "Items awaiting Kafka", registry=r)
        self.load = Gauge("vigil_ingest_load", "In-flight budget used (0..1)", registry=r)
        self.series = Gauge(
            "vigil_ingest_series", "Series counted by the cardinality guard", ["tenant"], registry=r
        )
        self.streams = Gauge(
            "vigil_ingest_streams",
            "Log services and span (service, operation) pairs counted by the cardinality guard",
            ["signal", "tenant"],
            registry=r,
        )
        self.anomalous = Gauge(
            "vigil_ingest_anomalous_series", "Series firing now (kept under load)", registry=r
        )

    def render(self) -> bytes:
        """The text exposition format."""
        return bytes(generate_latest(self.registry))


class TimingMiddleware:
    """Pure ASGI middleware: latency and status of every request to a known route."""

    def __init__(self, app: ASGIApp, metrics: IngestMetrics, routes: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in self.routes:
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def watch(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.latency.labels(path).observe(time.perf_counter() - began)
            self.metrics.requests.labels(path, str(status)).inc()
