"""The worker over the in-memory bus: idempotency, crash recovery, safety rails, paging."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from services.core.bus import InMemoryBus
from services.core.bus.base import DictStateStore
from services.core.events import RemediationCommand
from services.core.topics import NOTIFICATIONS, REMEDIATION_COMMANDS, REMEDIATION_RESULTS
from services.remediate.errors import ExecutorError
from services.remediate.executors.base import Executor, ExecutorRegistry, Outcome, PlannedCall
from services.remediate.executors.demo import DemoCluster
from services.remediate.safety import StoreLedger
from services.remediate.service import build_rails, build_remediate
from services.remediate.settings import RemediateSettings
from services.remediate.worker import RemediationWorker
from tests.unit.remediate_fakes import FakeClock


class CountingExecutor(Executor):
    """Counts runs; fails, blocks or succeeds as told."""

    actions = ("test.act",)

    def __init__(self, *, fail: bool = False, block: asyncio.Event | None = None) -> None:
        self.runs = 0
        self.fail = fail
        self.block = block
        self.started = asyncio.Event()

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        return [PlannedCall("POST", f"test://{command.target}")]

    async def execute(self, command: RemediationCommand) -> Outcome:
        self.runs += 1
        self.started.set()
        if self.block is not None:
            await self.block.wait()
        if self.fail:
            raise ExecutorError("target said no")
        return Outcome(True, "done", {"run": self.runs})


def command(
    cid: str = "cmd-1", action: str = "test.act", target: str = "svc-a", **params: Any
) -> RemediationCommand:
    return RemediationCommand(
        id=cid, incident_id="inc-1", request_id="req-1", action=action, target=target, params=params
    )


def settings(**kw: Any) -> RemediateSettings:
    return RemediateSettings(**kw)


def results(bus: InMemoryBus) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in bus.recent(REMEDIATION_RESULTS.name)]


def pages(bus: InMemoryBus) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in bus.recent(NOTIFICATIONS.name)]


async def deliver(bus: InMemoryBus, *commands: RemediationCommand) -> None:
    await bus.publish(REMEDIATION_COMMANDS, list(commands))
    await bus.drain()


def test_a_command_delivered_twice_executes_once() -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        bus = InMemoryBus()
        executor = CountingExecutor()
        build_remediate(settings(), bus, clock=FakeClock(), executors=[executor])
        await bus.start()
        await deliver(bus, command(), command())
        await bus.stop()
        return executor.runs, results(bus)

    runs, published = asyncio.run(scenario())
    assert runs == 1
    assert len(published) == 2
    assert published[0] == published[1]  # the recorded result, same id, replayed
    assert published[0]["status"] == "succeeded"
    assert published[0]["output"] == {"run": 1}
    assert published[0]["action"] == "test.act" and published[0]["target"] == "svc-a"


def worker_on(bus: InMemoryBus, store: DictStateStore, executor: Executor) -> RemediationWorker:
    """A worker whose ledger lives in `store` (on Kafka: a Faust table that outlives it)."""
    clock = FakeClock()
    worker = RemediationWorker(
        bus,
        registry=ExecutorRegistry([executor]),
        rails=build_rails(settings(), clock),
        ledger=StoreLedger(store, clock),
        clock=clock,
    )
    worker.attach(group="vigil-remediate")
    return worker


def test_a_worker_killed_mid_action_recovers_to_a_recorded_interrupted_state() -> None:
    async def scenario() -> tuple[int, int, list[dict[str, Any]], list[dict[str, Any]]]:
        store = DictStateStore()
        hung = CountingExecutor(block=asyncio.Event())  # never finishes
        first = worker_on(InMemoryBus(), store, hung)
        task = asyncio.create_task(first.handle(command()))
        await hung.started.wait()
        task.cancel()  # the worker dies mid-action, before the offset is committed
        await asyncio.gather(task, return_exceptions=True)

        bus = InMemoryBus()
        fresh = CountingExecutor()
        worker_on(bus, store, fresh)
        await bus.start()
        await deliver(bus, command())  # the uncommitted command comes back
        await deliver(bus, command())  # and again: still the same recorded answer
        await bus.stop()
        assert json.loads(store.data["svc-a"])["cmd-1"]["state"] == "finished"
        return hung.runs, fresh.runs, results(bus), pages(bus)

    hung_runs, fresh_runs, published, paged = asyncio.run(scenario())
    assert (hung_runs, fresh_runs) == (1, 0)  # never silently re-run
    assert [r["status"] for r in published] == ["interrupted", "interrupted"]
    assert "not run again" in published[0]["detail"]
    assert [p["event_type"] for p in paged] == ["remediation.interrupted"]


def test_unknown_action_and_bad_target_are_rejected_not_dropped() -> None:
    async def scenario() -> list[dict[str, Any]]:
        bus = InMemoryBus()
        build_remediate(settings(), bus, clock=FakeClock(), executors=[])
        await bus.start()
        await deliver(bus, command(action="nope.act"))
        await bus.stop()
        return results(bus)

    (result,) = asyncio.run(scenario())
    assert result["status"] == "rejected"
    assert "no executor registered" in result["detail"]


def test_kill_switch_rejects_without_running() -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        bus = InMemoryBus()
        executor = CountingExecutor()
        build_remediate(
            settings(remediate_kill_switch=True), bus, clock=FakeClock(), executors=[executor]
        )
        await bus.start()
        await deliver(bus, command())
        await bus.stop()
        return executor.runs, results(bus)

    runs, (result,) = asyncio.run(scenario())
    assert runs == 0
    assert result["status"] == "rejected" and "kill switch" in result["detail"]


def test_repeated_failures_open_the_breaker_and_page_a_human() -> None:
    async def scenario() -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        bus = InMemoryBus()
        executor = CountingExecutor(fail=True)
        build_remediate(
            settings(remediate_breaker_failures=2, remediate_per_target_burst=10),
            bus,
            clock=FakeClock(),
            executors=[executor],
        )
        await bus.start()
        await deliver(bus, *(command(f"c{i}") for i in range(3)))
        await bus.stop()
        return executor.runs, results(bus), pages(bus)

    runs, published, paged = asyncio.run(scenario())
    assert runs == 2
    assert [r["status"] for r in published] == ["failed", "failed", "rejected"]
    assert "circuit breaker" in published[2]["detail"]
    assert [p["event_type"] for p in paged] == ["remediation.circuit_open"]
    assert paged[0]["channel"] == "oncall"


def test_rate_limit_per_target_rejects_the_excess() -> None:
    async def scenario() -> list[str]:
        bus = InMemoryBus()
        build_remediate(
            settings(remediate_per_target_burst=1),
            bus,
            clock=FakeClock(),
            executors=[CountingExecutor()],
        )
        await bus.start()
        await deliver(bus, command("c1"), command("c2"), command("c3", target="svc-b"))
        await bus.stop()
        return [r["status"] for r in results(bus)]

    assert asyncio.run(scenario()) == ["succeeded", "rejected", "succeeded"]


def test_demo_restart_heals_the_simulated_workload() -> None:
    async def scenario() -> tuple[DemoCluster, list[dict[str, Any]]]:
        bus = InMemoryBus()
        cluster = DemoCluster()
        cluster.add("checkout").healthy = False
        worker = build_remediate(settings(), bus, clock=FakeClock(), demo=cluster)
        assert isinstance(worker, RemediationWorker)
        await bus.start()
        await deliver(bus, command(action="demo.restart", target="checkout"))
        await bus.stop()
        return cluster, results(bus)

    cluster, (result,) = asyncio.run(scenario())
    assert result["status"] == "succeeded"
    assert cluster.workloads["checkout"].healthy
    assert cluster.workloads["checkout"].restarts == 1


def test_the_api_kill_switch_on_the_control_topic_stops_and_restarts_the_worker() -> None:
    from datetime import timedelta

    from services.api.remediation.killswitch import control_events
    from services.api.remediation.models import KillSwitchRow
    from services.core.topics import REMEDIATION_CONTROL
    from tests.unit.remediate_fakes import T0

    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        bus = InMemoryBus()
        executor = CountingExecutor()
        build_remediate(settings(), bus, clock=FakeClock(), executors=[executor])
        await bus.start()
        engaged = KillSwitchRow(id=1, engaged=True, reason="bad deploy", changed_by="admin",
                                changed_at=T0)  # fmt: skip
        await bus.publish(REMEDIATION_CONTROL, control_events(engaged))
        await bus.drain()
        await deliver(bus, command("cmd-1"))
        # A stale "released" (older than the engagement) changes nothing.
        stale = KillSwitchRow(id=1, engaged=False, reason="", changed_by="x",
                              changed_at=T0 - timedelta(minutes=1))  # fmt: skip
        await bus.publish(REMEDIATION_CONTROL, control_events(stale))
        await bus.drain()
        await deliver(bus, command("cmd-2"))
        released = KillSwitchRow(id=1, engaged=False, reason="", changed_by="admin",
                                 changed_at=T0 + timedelta(minutes=1))  # fmt: skip
        await bus.publish(REMEDIATION_CONTROL, control_events(released))
        await bus.drain()
        await deliver(bus, command("cmd-3"))
        await bus.stop()
        return executor.runs, results(bus)

    runs, out = asyncio.run(scenario())
    assert runs == 1
    assert [(r["command_id"], r["status"]) for r in out] == [
        ("cmd-1", "rejected"), ("cmd-2", "rejected"), ("cmd-3", "succeeded"),
    ]  # fmt: skip
    assert "kill switch engaged by admin: bad deploy" in out[0]["detail"]


def test_control_messages_cover_every_partition_of_the_control_topic() -> None:
    from services.api.remediation.killswitch import slots
    from services.core.bus.partitioning import partition_for
    from services.core.topics import REMEDIATION_COMMANDS, REMEDIATION_CONTROL

    assert REMEDIATION_CONTROL.partitions == REMEDIATION_COMMANDS.partitions
    keys = slots()
    n = REMEDIATION_CONTROL.partitions
    assert [partition_for(k.encode(), n) for k in keys] == list(range(n))
