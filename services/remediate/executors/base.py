"""The executor interface, the dry-run plan it shares with execution, and the registry.

An executor turns a `RemediationCommand` into requests or a process. `plan()` is pure and
returns exactly those requests (method, URL or path, content type, body) - the dry-run preview
shows it, and `execute()` sends what `plan()` returns, so the preview cannot drift from what
is done. Steps whose body depends on what the target reports (a rollback reads ReplicaSets
first) say so in `purpose` and carry `body=None` in the preview.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from services.core.events import RemediationCommand
from services.remediate.errors import ExecutorError, Refused

REDACTED = "<redacted>"
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class PlannedCall:
    """One request (or process) an executor makes; secrets in headers are redacted."""

    method: str  # GET, PATCH, POST, DELETE ... or EXEC for a local process
    url: str  # full URL, or API path for Kubernetes, or the executable for EXEC
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    argv: tuple[str, ...] = ()
    purpose: str = ""


@dataclass(frozen=True)
class Preview:
    """What an action would do, step by step, without doing it."""

    action: str
    target: str
    calls: tuple[PlannedCall, ...]


@dataclass(frozen=True)
class Outcome:
    """What an executor did: success, a one-line detail, and facts for a later rollback."""

    succeeded: bool
    detail: str
    output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackPlan:
    """The action (and parameters) that would undo a finished one."""

    action: str
    target: str
    params: dict[str, Any]


class Executor(ABC):
    """Carries out the actions it names. Subclasses are small: one family of targets each."""

    actions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        """Exactly what `execute` would send, computed without I/O."""

    @abstractmethod
    async def execute(self, command: RemediationCommand) -> Outcome:
        """Carry out the command; raise Refused (nothing changed) or ExecutorError."""

    def rollback(self, command: RemediationCommand, output: dict[str, Any]) -> RollbackPlan | None:
        """How to undo `command` given what it reported, or None if it cannot be undone."""
        del command, output
        return None


def parse_params(model: type[P], command: RemediationCommand) -> P:
    """Validate a command's params against an action's parameter model."""
    try:
        return model.model_validate(command.params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise Refused(f"bad params for {command.action}: {problems}") from exc


class ExecutorRegistry:
    """Executors by action name."""

    def __init__(self, executors: list[Executor] | None = None) -> None:
        self._by_action: dict[str, Executor] = {}
        for executor in executors or []:
            self.register(executor)

    def register(self, executor: Executor) -> None:
        """Make an executor responsible for every action it names."""
        for action in executor.actions:
            if action in self._by_action:
                raise ExecutorError(f"two executors for action {action!r}")
            self._by_action[action] = executor

    def get(self, action: str) -> Executor | None:
        """The executor of an action, or None."""
        return self._by_action.get(action)

    @property
    def actions(self) -> list[str]:
        """Every action some executor can run."""
        return sorted(self._by_action)

    def preview(self, command: RemediationCommand) -> Preview:
        """The dry run of a command; raises Refused for unknown actions or bad params."""
        executor = self.get(command.action)
        if executor is None:
            raise Refused(f"no executor registered for action {command.action!r}")
        return Preview(command.action, command.target, tuple(executor.plan(command)))
