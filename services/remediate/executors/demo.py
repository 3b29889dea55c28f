"""A simulated workload for `vigil demo`: restarts happen in-process, nothing leaves it."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.core.events import RemediationCommand
from services.remediate.errors import Refused
from services.remediate.executors.base import Executor, Outcome, PlannedCall


@dataclass
class DemoWorkload:
    """A pretend deployment: healthy or not, how often restarted, whether it opted in."""

    name: str
    healthy: bool = True
    restarts: int = 0
    opted_in: bool = True


@dataclass
class DemoCluster:
    """The demo's workloads by name; the fault injector marks them unhealthy."""

    workloads: dict[str, DemoWorkload] = field(default_factory=dict)

    @classmethod
    def of(cls, names: list[str]) -> DemoCluster:
        """A cluster with these (healthy, opted-in) workloads."""
        cluster = cls()
        for name in names:
            cluster.add(name)
        return cluster

    def add(self, name: str, *, opted_in: bool = True) -> DemoWorkload:
        """Add a workload (healthy)."""
        workload = self.workloads[name] = DemoWorkload(name, opted_in=opted_in)
        return workload


class DemoExecutor(Executor):
    """`demo.restart`: a restart makes the simulated workload healthy again."""

    actions = ("demo.restart",)

    def __init__(self, cluster: DemoCluster) -> None:
        self.cluster = cluster

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        """One simulated restart."""
        return [PlannedCall("RESTART", f"demo://{command.target}", purpose="simulated restart")]

    async def execute(self, command: RemediationCommand) -> Outcome:
        """Restart the workload, if it exists and opted in."""
        workload = self.cluster.workloads.get(command.target)
        if workload is None:
            raise Refused(f"no demo workload named {command.target!r}")
        if not workload.opted_in:
            raise Refused(f"demo workload {command.target} has not opted in")
        workload.restarts += 1
        workload.healthy = True
        return Outcome(True, f"restarted {command.target}", {"restarts": workload.restarts})
