"""The remediation worker: runs approved commands through safety rails and executors.

For each command on remediation.commands:
1. The idempotency ledger is consulted (keyed by the command id, which is the idempotency
   key). A finished command is answered with its recorded result and not run again. A command
   recorded as `started` but never finished means a worker died mid-action: it is reported as
   `interrupted` (and a human paged), never silently re-run.
2. Unknown actions, bad parameters and safety-rail refusals are answered `rejected`.
3. `started` is recorded durably, the executor runs (with a timeout), the result is recorded
   durably, then published to remediation.results. A failure feeds the circuit breaker; when
   it opens, a human is paged on the notifications topic.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Literal, cast

from services.core.bus import Bus
from services.core.events import (
    Event,
    Notification,
    RemediationCommand,
    RemediationControl,
    RemediationResult,
    stable_id,
)
from services.core.topics import (
    NOTIFICATIONS,
    REMEDIATION_COMMANDS,
    REMEDIATION_CONTROL,
    REMEDIATION_RESULTS,
)
from services.remediate.clock import Clock
from services.remediate.errors import ExecutorError, Refused
from services.remediate.executors.base import ExecutorRegistry, Outcome
from services.remediate.safety import Ledger, SafetyRails

log = logging.getLogger(__name__)

Status = Literal["succeeded", "failed", "rejected", "interrupted"]


class RemediationWorker:
    """Bus handler for remediation.commands."""

    def __init__(
        self,
        bus: Bus,
        *,
        registry: ExecutorRegistry,
        rails: SafetyRails,
        ledger: Ledger,
        clock: Clock,
        escalation_channel: str = "oncall",
        action_timeout_s: float = 120.0,
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.rails = rails
        self.ledger = ledger
        self.clock = clock
        self.escalation_channel = escalation_channel
        self.action_timeout_s = action_timeout_s
        self.executed = 0
        self.replayed = 0
        self._switch_logged = False

    def attach(self, *, group: str) -> None:
        """Subscribe to remediation.commands and to the api's kill switch."""
        self.bus.subscribe(REMEDIATION_COMMANDS, self.handle, group=group)
        self.bus.subscribe(REMEDIATION_CONTROL, self.handle_control, group=group)

    async def handle_control(self, event: Event) -> None:
        """Follow the api's kill switch (older messages, e.g. redelivered ones, are ignored)."""
        control = cast(RemediationControl, event)
        switch = self.rails.api_switch
        if switch.at is not None and control.at < switch.at:
            return
        if control.kill_switch:
            switch.engage(by=control.by, reason=control.reason, at=control.at)
        else:
            switch.release(by=control.by, at=control.at)
        if control.kill_switch != self._switch_logged:
            self._switch_logged = control.kill_switch
            state = "engaged" if control.kill_switch else "released"
            log.warning("kill switch %s by %s: %s", state, control.by or "?", control.reason)

    async def handle(self, event: Event) -> None:
        """Run one command at most once and publish its result."""
        command = cast(RemediationCommand, event)
        entry = self.ledger.get(command.target, command.id)
        if entry is not None and entry.state == "finished" and entry.result is not None:
            self.replayed += 1
            await self.bus.publish(REMEDIATION_RESULTS, [RemediationResult(**entry.result)])
            return
        if entry is not None:
            detail = (
                f"a worker stopped while running this command (started {entry.at}); "
                "it was not run again - check the target"
            )
            started = datetime.fromisoformat(entry.at)
            result = self._result(command, "interrupted", detail, started_at=started)
            self.rails.outcome(succeeded=False)
            await self._page(command, "remediation.interrupted", detail)
            await self._finish(command, result)
            return
        refusal = self._refusal(command)
        if refusal is not None:
            await self._finish(command, self._result(command, "rejected", refusal))
            return
        await self.ledger.started(command.target, command.id)
        started_at = self.clock.now()
        status, detail, output = await self._execute(command)
        self.executed += 1
        result = self._result(command, status, detail, output, started_at)
        if status != "rejected" and self.rails.outcome(succeeded=status == "succeeded"):
            await self._page(
                command, "remediation.circuit_open", f"automation paused after: {detail}"
            )
        await self._finish(command, result)

    def _refusal(self, command: RemediationCommand) -> str | None:
        executor = self.registry.get(command.action)
        if executor is None:
            return f"no executor registered for action {command.action!r}"
        try:
            executor.plan(command)  # validates the target and params without I/O
        except Refused as exc:
            return str(exc)
        verdict = self.rails.admit(command.action, command.target, command.params)
        return None if verdict.allowed else verdict.reason

    async def _execute(self, command: RemediationCommand) -> tuple[Status, str, dict[str, Any]]:
        executor = self.registry.get(command.action)
        assert executor is not None  # checked by _refusal
        try:
            outcome: Outcome = await asyncio.wait_for(
                executor.execute(command), self.action_timeout_s
            )
        except Refused as exc:
            return "rejected", str(exc), {}
        except ExecutorError as exc:
            return "failed", str(exc), {}
        except TimeoutError:
            return "failed", f"no answer within {self.action_timeout_s:g}s", {}
        except Exception as exc:  # noqa: BLE001 - record a known state whatever went wrong
            log.exception("executor for %s crashed", command.action)
            return "failed", f"executor error: {type(exc).__name__}: {exc}", {}
        return ("succeeded" if outcome.succeeded else "failed"), outcome.detail, outcome.output

    def _result(
        self,
        command: RemediationCommand,
        status: Status,
        detail: str,
        output: dict[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> RemediationResult:
        return RemediationResult(
            id=f"result-{command.id}"[:128],
            command_id=command.id,
            incident_id=command.incident_id,
            status=status,
            detail=detail[:2000],
            finished_at=self.clock.now(),
            action=command.action,
            target=command.target,
            started_at=started_at,
            output=output or {},
        )

    async def _finish(self, command: RemediationCommand, result: RemediationResult) -> None:
        # Durable before publishing: a redelivery after this point replays the same result.
        await self.ledger.finished(command.target, command.id, result.model_dump(mode="json"))
        log.info("%s on %s: %s (%s)", command.action, command.target, result.status, result.detail)
        await self.bus.publish(REMEDIATION_RESULTS, [result])

    async def _page(self, command: RemediationCommand, event_type: str, detail: str) -> None:
        page = Notification(
            # Stable id: a page re-sent after a retry is recognised as the same page.
            id=stable_id("remediation-page", command.id, event_type),
            channel=self.escalation_channel,
            incident_id=command.incident_id,
            event_type=event_type,
            payload={
                "command_id": command.id,
                "action": command.action,
                "target": command.target,
                "detail": detail,
            },
        )
        await self.bus.publish(NOTIFICATIONS, [page])
