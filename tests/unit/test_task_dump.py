"""`kill -USR1` on a service logs where each asyncio task waits."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from services.production import _dump_tasks_on_sigusr1


async def _inner_wait(gate: asyncio.Event) -> None:
    await gate.wait()


async def _outer_wait(gate: asyncio.Event) -> None:
    await _inner_wait(gate)


def test_sigusr1_logs_each_tasks_await_chain(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        task = asyncio.create_task(_outer_wait(gate), name="stuck-worker")
        await asyncio.sleep(0)
        _dump_tasks_on_sigusr1()
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.sleep(0.1)
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGUSR1)
            gate.set()
            await task

    with caplog.at_level(logging.WARNING, logger="services.production"):
        asyncio.run(main())
    dump = "\n".join(r.getMessage() for r in caplog.records)
    line = next(x for x in dump.splitlines() if x.startswith("stuck-worker:"))
    assert "_outer_wait" in line and "_inner_wait" in line and "wait (locks.py" in line
