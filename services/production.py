"""`vigil run SERVICE`: one service per process against Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client.registry import Collector

from services.core.bus.kafka import KafkaBus
from services.core.errors import RetryableError
from services.core.logs import configure_logging
from services.core.metrics import BusCollector, Value, new_registry, ops_app, register_values
from services.core.runtime import ensure_port_free, http_server, stop_on_signals
from services.core.settings import CommonSettings

log = logging.getLogger(__name__)

SERVICES = ("ingest", "detect", "remediate", "api")


async def _start_bus(bus: KafkaBus, stop: asyncio.Event) -> bool:
    """Start the bus, retrying while Kafka is unreachable; False if asked to stop first."""
    delay = 1.0
    while not stop.is_set():
        try:
            await bus.start()
            return True
        except RetryableError as exc:
            log.warning("%s; retrying in %.0fs", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)
    return False


async def _serve_until(stop: asyncio.Event, app: object, host: str, port: int) -> None:
    ensure_port_free(host, port, "HTTP")
    server = http_server(app, host, port)
    task = asyncio.create_task(server.serve())
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    waiter.cancel()


def _ops_app(bus: KafkaBus, values: list[Value], extra: Collector | None = None) -> object:
    """/healthz, /readyz (the bus) and /metrics (bus and service) for a worker service."""
    registry = new_registry()
    registry.register(BusCollector(bus))
    register_values(registry, values)
    if extra is not None:
        registry.register(extra)
    return ops_app(registry, bus.ready)


async def run_ingest(stop: asyncio.Event) -> None:
    from services.ingest.runner import kafka_bus, serve_on_kafka
    from services.ingest.settings import IngestSettings

    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_format)
    bus = kafka_bus(settings)
    if await _start_bus(bus, stop):
        try:
            await serve_on_kafka(settings, bus, stop, _serve_until)
        finally:
            await bus.stop()


async def run_detect(stop: asyncio.Event) -> None:
    from services.detect.service import build_detect, detect_collector, detect_metrics
    from services.detect.settings import DetectSettings

    settings = DetectSettings()
    configure_logging(settings.log_level, settings.log_format)
    bus = KafkaBus(
        settings.kafka_servers,
        client_id="vigil-detect",
        topic_prefix=settings.topic_prefix,
    )
    worker = build_detect(settings, bus)
    host, port = settings.detect_http_host, settings.detect_http_port
    ensure_port_free(host, port, "detect's health and metrics")
    if await _start_bus(bus, stop):
        log.info("detect consuming as %s; metrics on %s:%d", settings.detect_group, host, port)
        try:
            ops = _ops_app(bus, detect_metrics(worker), detect_collector(worker))
            await _serve_until(stop, ops, host, port)
        finally:
            await bus.stop()


async def run_remediate(stop: asyncio.Event) -> None:
    from services.remediate.service import build_notifications, build_remediate, remediate_metrics
    from services.remediate.settings import RemediateSettings

    settings = RemediateSettings()
    configure_logging(settings.log_level, settings.log_format)
    bus = KafkaBus(
        settings.kafka_servers,
        client_id="vigil-remediate",
        topic_prefix=settings.topic_prefix,
    )
    worker = build_remediate(settings, bus)
    notify = build_notifications(settings, bus) if settings.notify_enabled else None
    host, port = settings.remediate_http_host, settings.remediate_http_port
    ensure_port_free(host, port, "remediate's health and metrics")
    if await _start_bus(bus, stop):
        log.info("remediate consuming; metrics on %s:%d", host, port)
        ops = _ops_app(bus, remediate_metrics(worker), notify.collector() if notify else None)
        if notify is not None:
            await notify.start()
        try:
            await _serve_until(stop, ops, host, port)
        finally:
            await bus.stop()
            if notify is not None:
                await notify.stop()


async def run_api(stop: asyncio.Event) -> None:
    from services.api.service import build_api
    from services.api.settings import ApiSettings

    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    bus = KafkaBus(
        settings.kafka_servers,
        client_id="vigil-api",
        topic_prefix=settings.topic_prefix,
    )
    api = build_api(settings, bus)
    if await _start_bus(bus, stop):
        await api.start(stop)
        log.info("api listening on %s:%d", settings.api_host, settings.api_port)
        try:
            await _serve_until(stop, api.app, settings.api_host, settings.api_port)
        finally:
            await bus.stop()
            await api.stop()


RUNNERS: dict[str, Callable[[asyncio.Event], Awaitable[None]]] = {
    "ingest": run_ingest,
    "detect": run_detect,
    "remediate": run_remediate,
    "api": run_api,
}


def _awaiting(coro: object) -> str:
    """`outer (file:line) -> ... -> innermost` along a suspended coroutine's await chain."""
    steps: list[str] = []
    while coro is not None and len(steps) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            steps.append(type(coro).__name__)
            break
        steps.append(
            f"{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})"
        )
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " -> ".join(steps) or "done"


def _dump_tasks_on_sigusr1() -> None:
    """`kill -USR1 PID` logs the stack of every asyncio task: where a stuck worker waits."""
    loop = asyncio.get_running_loop()

    def dump() -> None:
        lines = []
        for task in asyncio.all_tasks(loop):
            lines.append(f"{task.get_name()}: {_awaiting(task.get_coro())}")
        log.warning("%d asyncio tasks:\n%s", len(lines), "\n".join(sorted(lines)))

    try:
        loop.add_signal_handler(signal.SIGUSR1, dump)
    except (NotImplementedError, RuntimeError):  # not on this platform
        pass


async def run_service(name: str, stop_requested: Callable[[], bool] = lambda: False) -> None:
    """Run one service until SIGINT or SIGTERM, then shut down gracefully.

    `stop_requested` tells whether a signal arrived before the event loop took them over.
    """
    configure_logging(CommonSettings().log_level, CommonSettings().log_format)
    stop = asyncio.Event()
    stop_on_signals(stop)
    _dump_tasks_on_sigusr1()
    if stop_requested():
        log.info("stop requested during start-up; shutting down")
        stop.set()
    await RUNNERS[name](stop)
