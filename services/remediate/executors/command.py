"""Local commands: allow-listed executables, arguments as a list, never a shell.

The allow-list maps a name to an absolute executable path; a command names the executable and
gives its arguments as a list, passed to the process as they are (a `;` or `$(...)` is just a
character). The process gets no stdin, a minimal environment and a timeout; its output is
captured and truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from services.core.events import RemediationCommand
from services.remediate.errors import ExecutorError, Refused
from services.remediate.executors.base import Executor, Outcome, PlannedCall, parse_params


@dataclass(frozen=True)
class CommandConfig:
    """Which executables may run, for how long, and how much output is kept."""

    allowed: dict[str, str] = field(default_factory=dict)  # name -> absolute path
    timeout_s: float = 30.0
    max_output: int = 4096
    env: dict[str, str] = field(default_factory=lambda: {"PATH": "/usr/bin:/bin"})


class CommandParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    executable: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list, max_length=64)


class CommandExecutor(Executor):
    """`command.run`: one allow-listed process."""

    actions = ("command.run",)

    def __init__(self, config: CommandConfig) -> None:
        for name, path in config.allowed.items():
            if not os.path.isabs(path):
                raise ExecutorError(f"allow-listed command {name!r} must be an absolute path")
        self.config = config

    def _argv(self, command: RemediationCommand) -> tuple[str, ...]:
        params = parse_params(CommandParams, command)
        path = self.config.allowed.get(params.executable)
        if path is None:
            raise Refused(f"{params.executable!r} is not an allow-listed command")
        return (path, *params.args)

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        """The process that would run, argument by argument."""
        argv = self._argv(command)
        return [PlannedCall("EXEC", argv[0], argv=argv, purpose="run without a shell")]

    async def execute(self, command: RemediationCommand) -> Outcome:
        """Run the process; a non-zero exit or a timeout is a failure."""
        argv = self._argv(command)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=dict(self.config.env),
                start_new_session=True,
            )
        except OSError as exc:
            raise ExecutorError(f"cannot start {argv[0]}: {exc}") from exc
        try:
            out, _ = await asyncio.wait_for(process.communicate(), self.config.timeout_s)
        except TimeoutError:
            # The process leads its own session: kill the group, children included.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            raise ExecutorError(
                f"{argv[0]} timed out after {self.config.timeout_s:g}s and was killed"
            ) from None
        output = self._truncate(out)
        facts = {"exit_code": process.returncode, "output": output}
        if process.returncode != 0:
            return Outcome(False, f"{argv[0]} exited with {process.returncode}", facts)
        return Outcome(True, f"{argv[0]} exited with 0", facts)

    def _truncate(self, out: bytes) -> str:
        text = out.decode(errors="replace")
        limit = self.config.max_output
        return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"
