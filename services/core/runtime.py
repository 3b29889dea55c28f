"""Process plumbing shared by the entry points: signals and HTTP servers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from services.core.errors import ConfigurationError


class _Server(uvicorn.Server):
    # Our entry points own signal handling (several servers share one process).
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail clearly, before starting anything, if the port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen for {what} on {host}:{port} ({exc.strerror}); "
                "is another instance running? Choose another port with the settings."
            ) from exc


def http_server(app: Any, host: str, port: int) -> _Server:
    """A uvicorn server for `app` that leaves signal handling to the caller."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # No "server: uvicorn" banner: it tells a scanner what to try.
        server_header=False,
    )
    return _Server(config)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGINT or SIGTERM (graceful shutdown)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
