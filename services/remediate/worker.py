"""The remediation worker: runs approved commands through registered executors.

Executors (Kubernetes, HTTP runbooks, local commands) register by action name. A command whose
action has no executor is answered with a `rejected` result rather than dropped, so the API
can show the operator why nothing happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from services.core.bus import Bus
from services.core.events import Event, RemediationCommand, RemediationResult
from services.core.topics import REMEDIATION_COMMANDS, REMEDIATION_RESULTS

Executor = Callable[[RemediationCommand], Awaitable[RemediationResult]]


class RemediationWorker:
    """Bus handler for remediation.commands."""

    def __init__(self, bus: Bus, executors: dict[str, Executor] | None = None) -> None:
        self.bus = bus
        self.executors = dict(executors or {})

    def attach(self, *, group: str) -> None:
        """Subscribe to remediation.commands."""
        self.bus.subscribe(REMEDIATION_COMMANDS, self.handle, group=group)

    async def handle(self, event: Event) -> None:
        """Execute one command and publish its result."""
        command = cast(RemediationCommand, event)
        executor = self.executors.get(command.action)
        if executor is None:
            result = RemediationResult(
                id=f"result-{command.id}"[:128],
                command_id=command.id,
                incident_id=command.incident_id,
                status="rejected",
                detail=f"no executor registered for action {command.action!r}",
            )
        else:
            result = await executor(command)
        await self.bus.publish(REMEDIATION_RESULTS, [result])
