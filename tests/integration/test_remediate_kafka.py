"""The remediate worker as a real process on real Kafka: killed mid-action, redeliveries.

The ledger lives in a Faust table (compacted changelog), flushed before an action starts, so a
replacement worker knows what the dead one was doing. The command's offset was never
committed (its handler never returned), so Kafka redelivers it to the replacement.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from services.core.bus.kafka import KafkaBus
from services.core.events import RemediationCommand
from services.core.topics import REMEDIATION_COMMANDS
from tests.integration.kafka_tools import read_all
from tests.integration.procs import ServiceProcess


def publish(bootstrap: str, prefix: str, *commands: RemediationCommand) -> None:
    async def send() -> None:
        bus = KafkaBus([bootstrap], client_id="t-remediate-producer", topic_prefix=prefix)
        await bus.start()
        try:
            await bus.publish(REMEDIATION_COMMANDS, list(commands))
        finally:
            await bus.stop()

    asyncio.run(send())


def results(bootstrap: str, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in read_all(bootstrap, f"{prefix}remediation.results")]


def wait_results(bootstrap: str, prefix: str, count: int, proc: ServiceProcess) -> list[Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = results(bootstrap, prefix)
        if len(found) >= count:
            return found
        assert proc.alive(), proc.log_tail()
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} results:\n{proc.log_tail()}")


def run_command(cid: str, script: str, marker: Path) -> RemediationCommand:
    return RemediationCommand(
        id=cid,
        incident_id="inc-1",
        request_id=f"req-{cid}",
        action="command.run",
        target="host-1",
        params={"executable": script, "args": [str(marker)]},
    )


def test_worker_killed_mid_action_recovers_to_interrupted_and_never_reruns(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    slow, quick = tmp_path / "slow.sh", tmp_path / "quick.sh"
    slow.write_text('#!/bin/sh\necho ran >> "$1"\nexec sleep 15\n')
    quick.write_text('#!/bin/sh\necho ran >> "$1"\n')
    for script in (slow, quick):
        script.chmod(0o755)
    env = {
        "VIGIL_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "VIGIL_TOPIC_PREFIX": topic_prefix,
        "VIGIL_REMEDIATE_COMMANDS": json.dumps({"slow": str(slow), "quick": str(quick)}),
    }
    worker = ServiceProcess("remediate", env, tmp_path, label="remediate-1").start()
    slow_marker, quick_marker = tmp_path / "slow.ran", tmp_path / "quick.ran"
    try:
        publish(kafka_bootstrap, topic_prefix, run_command("c-slow", "slow", slow_marker))
        deadline = time.monotonic() + 180
        while not slow_marker.exists():
            assert time.monotonic() < deadline, worker.log_tail()
            assert worker.alive(), worker.log_tail()
            time.sleep(0.2)
        worker.kill()  # mid-action: the ledger says "started", the offset is not committed

        worker = ServiceProcess("remediate", env, tmp_path, label="remediate-2").start()
        (first,) = wait_results(kafka_bootstrap, topic_prefix, 1, worker)
        assert first["command_id"] == "c-slow"
        assert first["status"] == "interrupted"

        # A duplicate of the interrupted command and a normal command delivered twice.
        publish(
            kafka_bootstrap,
            topic_prefix,
            run_command("c-slow", "slow", slow_marker),
            run_command("c-quick", "quick", quick_marker),
            run_command("c-quick", "quick", quick_marker),
        )
        found = wait_results(kafka_bootstrap, topic_prefix, 4, worker)
    finally:
        worker.stop()
    by_command = [(r["command_id"], r["status"]) for r in found]
    assert by_command == [
        ("c-slow", "interrupted"),
        ("c-slow", "interrupted"),
        ("c-quick", "succeeded"),
        ("c-quick", "succeeded"),
    ]
    assert slow_marker.read_text() == "ran\n"  # run once, never again after the crash
    assert quick_marker.read_text() == "ran\n"  # delivered twice, executed once
