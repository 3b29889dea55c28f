"""Did the action help? A pure evaluator over the incident's signals, and success counters.

After an action at `acted_at`, watch the incident's signals for `window`:
- verified: every signal firing when the action ran has resolved, no other signal of the
  incident fires, and that has held for `settle` (or the incident itself was resolved);
- failed: at the end of the window a signal still (or newly) fires;
- watching: neither yet.
A failure leads to the executor's rollback when it has one, and to an escalation either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.core.events import RemediationCommand
from services.remediate.executors.base import ExecutorRegistry, RollbackPlan


class VerdictStatus(StrEnum):
    WATCHING = "watching"
    VERIFIED = "verified"
    FAILED = "failed"


@dataclass(frozen=True)
class SignalChange:
    """A signal of the incident went firing (True) or resolved (False) at `at`."""

    series: str
    at: datetime
    firing: bool


@dataclass(frozen=True)
class VerificationVerdict:
    """The evaluator's answer, and why."""

    status: VerdictStatus
    reason: str
    firing: tuple[str, ...] = ()


def _state_at(changes: list[SignalChange], moment: datetime) -> dict[str, tuple[bool, datetime]]:
    state: dict[str, tuple[bool, datetime]] = {}
    for change in changes:
        if change.at <= moment:
            state[change.series] = (change.firing, change.at)
    return state


def evaluate(
    *,
    acted_at: datetime,
    now: datetime,
    changes: Iterable[SignalChange],
    window: timedelta,
    settle: timedelta = timedelta(0),
    incident_resolved: bool = False,
) -> VerificationVerdict:
    """Decide verified / failed / watching for an action (see the module docstring)."""
    ordered = sorted(changes, key=lambda c: c.at)
    before = _state_at(ordered, acted_at)
    was_firing = sorted(s for s, (firing, _) in before.items() if firing)
    current = _state_at(ordered, now)
    still = tuple(sorted(s for s, (firing, _) in current.items() if firing))
    if incident_resolved and not still:
        return VerificationVerdict(VerdictStatus.VERIFIED, "the incident was resolved")
    deadline = acted_at + window
    if not still:
        last_change = max((at for _, at in current.values()), default=acted_at)
        quiet_since = max(last_change, acted_at)
        if now - quiet_since >= settle:
            recovered = ", ".join(was_firing) or "no signal"
            return VerificationVerdict(
                VerdictStatus.VERIFIED, f"{recovered} recovered and stayed quiet"
            )
    if now >= deadline:
        if still:
            return VerificationVerdict(
                VerdictStatus.FAILED,
                f"still firing {window.total_seconds():g}s after the action: {', '.join(still)}",
                still,
            )
        return VerificationVerdict(VerdictStatus.VERIFIED, "quiet at the end of the window")
    return VerificationVerdict(VerdictStatus.WATCHING, "within the verification window", still)


@dataclass(frozen=True)
class FollowUp:
    """What to do after a failed verification."""

    rollback: RollbackPlan | None
    escalate: bool
    reason: str


def follow_up(
    verdict: VerificationVerdict,
    command: RemediationCommand,
    output: dict[str, Any],
    registry: ExecutorRegistry,
) -> FollowUp | None:
    """Roll back where the executor can, and escalate, after a failure; None otherwise."""
    if verdict.status is not VerdictStatus.FAILED:
        return None
    executor = registry.get(command.action)
    plan = executor.rollback(command, output) if executor is not None else None
    how = f"rolling back with {plan.action}" if plan else "no automatic rollback"
    return FollowUp(plan, True, f"{verdict.reason}; {how}")


@dataclass
class Tally:
    """Outcomes of one runbook on one kind of incident."""

    attempts: int = 0
    succeeded: int = 0
    failed: int = 0
    verified: int = 0
    rolled_back: int = 0

    @property
    def success_rate(self) -> float | None:
        """Verified over attempts (None before the first attempt)."""
        return self.verified / self.attempts if self.attempts else None


class SuccessStats:
    """Per-(runbook, incident kind) counters, for the api to serve."""

    OUTCOMES = ("attempt", "succeeded", "failed", "verified", "rolled_back")

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str], Tally] = {}

    def record(self, runbook: str, incident_kind: str, outcome: str) -> None:
        """Count one outcome: attempt, succeeded, failed, verified or rolled_back."""
        if outcome not in self.OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        tally = self.tallies.setdefault((runbook, incident_kind), Tally())
        field_name = "attempts" if outcome == "attempt" else outcome
        setattr(tally, field_name, getattr(tally, field_name) + 1)

    def rows(self) -> list[dict[str, Any]]:
        """One row per (runbook, kind), sorted, with the success rate."""
        return [
            {
                "runbook": runbook,
                "incident_kind": kind,
                "attempts": t.attempts,
                "succeeded": t.succeeded,
                "failed": t.failed,
                "verified": t.verified,
                "rolled_back": t.rolled_back,
                "success_rate": t.success_rate,
            }
            for (runbook, kind), t in sorted(self.tallies.items())
        ]
