"""The local command executor: allow-list, argument lists, no shell, timeout, truncation."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

import pytest

from services.core.events import RemediationCommand
from services.remediate.errors import ExecutorError, Refused
from services.remediate.executors.command import CommandConfig, CommandExecutor

ECHO = shutil.which("echo") or "/bin/echo"
SLEEP = shutil.which("sleep") or "/bin/sleep"
FALSE = shutil.which("false") or "/bin/false"


def command(**params: Any) -> RemediationCommand:
    return RemediationCommand(
        incident_id="i", request_id="r", action="command.run", target="host-1", params=params
    )


def executor(**kwargs: Any) -> CommandExecutor:
    allowed = {"echo": ECHO, "sleep": SLEEP, "false": FALSE}
    return CommandExecutor(CommandConfig(allowed=allowed, **kwargs))


def test_shell_metacharacters_are_passed_literally(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    args = [f"; touch {marker}", "$(id)", "`id`", "| cat /etc/passwd", "&& exit 3"]
    outcome = asyncio.run(executor().execute(command(executable="echo", args=args)))
    assert outcome.succeeded
    assert outcome.output["output"] == " ".join(args) + "\n"
    assert not marker.exists()


def test_executable_outside_the_allow_list_is_refused() -> None:
    with pytest.raises(Refused, match="not an allow-listed command"):
        asyncio.run(executor().execute(command(executable="/bin/sh", args=["-c", "id"])))
    with pytest.raises(Refused, match="not an allow-listed command"):
        executor().plan(command(executable="rm", args=["-rf", "/"]))


def test_allow_list_must_name_absolute_paths() -> None:
    with pytest.raises(ExecutorError, match="absolute path"):
        CommandExecutor(CommandConfig(allowed={"echo": "echo"}))


def test_timeout_kills_the_process() -> None:
    with pytest.raises(ExecutorError, match="timed out"):
        asyncio.run(executor(timeout_s=0.2).execute(command(executable="sleep", args=["5"])))


def test_non_zero_exit_is_a_failure() -> None:
    outcome = asyncio.run(executor().execute(command(executable="false")))
    assert not outcome.succeeded
    assert outcome.output["exit_code"] == 1


def test_output_is_truncated() -> None:
    outcome = asyncio.run(
        executor(max_output=10).execute(command(executable="echo", args=["x" * 100]))
    )
    assert outcome.output["output"].startswith("x" * 10 + "... [")


def test_preview_lists_the_exact_argv() -> None:
    (planned,) = executor().plan(command(executable="echo", args=["a b", ";c"]))
    assert planned.argv == (ECHO, "a b", ";c")


def test_timeout_kills_the_whole_process_group(tmp_path: Any) -> None:
    script = tmp_path / "spawn.sh"
    marker = tmp_path / "late"
    script.write_text(f'#!/bin/sh\n(sleep 1; touch "{marker}") &\nsleep 5\n')
    script.chmod(0o755)
    runner = CommandExecutor(CommandConfig(allowed={"spawn": str(script)}, timeout_s=0.3))
    with pytest.raises(ExecutorError, match="timed out"):
        asyncio.run(runner.execute(command(executable="spawn")))
    time.sleep(1.5)
    assert not marker.exists()
