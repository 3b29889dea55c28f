"""The whole remediation loop in one process (in-memory bus, SQLite): alerts open incidents,
the api proposes and auto-approves actions, the worker's safety rails refuse what is too much,
and the refusals come back onto the actions and their timelines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

import migrations
from services.api.remediation.models import RemediationAction
from services.api.service import ApiService, build_api
from services.api.settings import ApiSettings
from services.core.bus import InMemoryBus
from services.core.events import RemediationCommand
from services.core.topics import ALERTS_EXTERNAL, NOTIFICATIONS
from services.remediate.errors import ExecutorError
from services.remediate.executors.base import Executor, Outcome, PlannedCall
from services.remediate.service import build_remediate
from services.remediate.settings import RemediateSettings
from tests.factories import alert

POLICY = """
policies:
  - name: auto-restart
    match: {min_severity: warning}
    actions:
      - {action: test.restart, target: "{service}", risk: low}
    approval: {auto_approve: true}
"""


class Restarts(Executor):
    """Restarts that succeed or fail as told, counted."""

    actions = ("test.restart",)

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.runs: list[str] = []

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        return [PlannedCall("RESTART", f"test://{command.target}")]

    async def execute(self, command: RemediationCommand) -> Outcome:
        self.runs.append(command.target)
        if self.fail:
            raise ExecutorError(f"{command.target} did not come back")
        return Outcome(True, f"restarted {command.target}")


async def _settle(api: ApiService, bus: InMemoryBus, rounds: int = 6) -> None:
    for _ in range(rounds):
        await bus.drain()
        await api.relay.relay_once()
    await bus.drain()


def _run(
    tmp_path: Path, executor: Restarts, services: list[str], **rails: Any
) -> tuple[ApiService, list[dict[str, Any]]]:
    """Run alerts for `services` through api and worker; the api and the pages sent."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    url = f"sqlite:///{tmp_path}/loop.db"
    migrations.upgrade(url)

    async def scenario() -> tuple[ApiService, list[dict[str, Any]]]:
        bus = InMemoryBus()
        settings = ApiSettings(
            database_url=url, remediation_policies=str(policy), secret_key_file=str(tmp_path / "k")
        )
        api = build_api(settings, bus, executors=[executor])
        build_remediate(RemediateSettings(**rails), bus, executors=[executor])
        await bus.start()
        for i, service in enumerate(services):
            await bus.publish(ALERTS_EXTERNAL, [alert(service=service, fingerprint=f"fp{i}")])
            await _settle(api, bus)
        pages = [json.loads(m.value) for m in bus.recent(NOTIFICATIONS.name)]
        await bus.stop()
        return api, pages

    return asyncio.run(scenario())


def _actions(api: ApiService) -> list[tuple[str, str, str | None, str]]:
    with api.session_factory() as session:
        rows = session.scalars(select(RemediationAction).order_by(RemediationAction.created_at))
        return [(r.target, r.state, r.result_status, r.result_detail) for r in rows]


def _timeline_kinds(api: ApiService) -> list[str]:
    from services.api.incidents.models import TimelineEntry

    with api.session_factory() as session:
        return list(session.scalars(select(TimelineEntry.kind).order_by(TimelineEntry.id)))


def test_blast_radius_refuses_a_third_target_within_the_hour(tmp_path: Path) -> None:
    executor = Restarts(fail=False)
    api, _ = _run(tmp_path, executor, ["a", "b", "c"], remediate_max_targets_per_hour=2)
    actions = _actions(api)
    assert executor.runs == ["a", "b"]
    assert [(t, s, r) for t, s, r, _ in actions[:2]] == [
        ("a", "succeeded", "succeeded"), ("b", "succeeded", "succeeded"),
    ]  # fmt: skip
    target, state, result, detail = actions[2]
    assert (target, state, result) == ("c", "failed", "rejected")
    assert "already touched 2 targets" in detail
    assert "action.rejected" in _timeline_kinds(api)
    api.engine.dispose()


def test_the_circuit_breaker_opens_after_repeated_failures_and_pages(tmp_path: Path) -> None:
    executor = Restarts(fail=True)
    api, pages = _run(tmp_path, executor, ["a", "b", "c"], remediate_breaker_failures=2)
    assert executor.runs == ["a", "b"]  # the third never ran
    actions = _actions(api)
    assert [(t, s, r) for t, s, r, _ in actions] == [
        ("a", "failed", "failed"), ("b", "failed", "failed"), ("c", "failed", "rejected"),
    ]  # fmt: skip
    assert "circuit breaker open" in actions[2][3]
    assert "remediation.circuit_open" in [p["event_type"] for p in pages]
    kinds = _timeline_kinds(api)
    assert kinds.count("action.failed") == 2 and kinds.count("action.rejected") == 1
    api.engine.dispose()
