"""The pure incident state machine, roles, flapping and quiet-period decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.auth.roles import Role, allows
from services.api.incidents.lifecycle import Command, authorize, transition
from services.api.incidents.quiet import QuietPolicy, due, hold, is_flapping, record_flip
from services.core.errors import Conflict, Forbidden
from services.core.events import IncidentStatus as S

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.mark.parametrize(
    ("status", "command", "expected"),
    [
        (S.OPEN, Command.ACKNOWLEDGE, S.ACKNOWLEDGED),
        (S.OPEN, Command.MITIGATE, S.MITIGATING),
        (S.ACKNOWLEDGED, Command.MITIGATE, S.MITIGATING),
        (S.MITIGATING, Command.RESOLVE, S.RESOLVED),
        (S.OPEN, Command.RESOLVE, S.RESOLVED),
        (S.RESOLVED, Command.REOPEN, S.OPEN),
    ],
)
def test_forward_transitions(status: S, command: Command, expected: S) -> None:
    assert transition(status, command) is expected


@pytest.mark.parametrize(
    ("status", "command"),
    [
        (S.ACKNOWLEDGED, Command.ACKNOWLEDGE),
        (S.MITIGATING, Command.MITIGATE),
        (S.RESOLVED, Command.RESOLVE),
        (S.OPEN, Command.REOPEN),
    ],
)
def test_asking_for_the_current_state_changes_nothing(status: S, command: Command) -> None:
    assert transition(status, command) is None


@pytest.mark.parametrize(
    ("status", "command"),
    [
        (S.RESOLVED, Command.ACKNOWLEDGE),
        (S.MITIGATING, Command.ACKNOWLEDGE),
        (S.RESOLVED, Command.MITIGATE),
    ],
)
def test_going_backwards_is_a_conflict(status: S, command: Command) -> None:
    with pytest.raises(Conflict):
        transition(status, command)


def test_roles_are_ordered_and_viewers_cannot_drive_incidents() -> None:
    assert allows(Role.ADMIN, Role.APPROVER) and allows(Role.APPROVER, Role.RESPONDER)
    assert not allows(Role.RESPONDER, Role.APPROVER)
    authorize(Command.ACKNOWLEDGE, Role.RESPONDER)
    with pytest.raises(Forbidden):
        authorize(Command.ACKNOWLEDGE, Role.VIEWER)


def test_a_signal_flipping_often_within_the_window_is_flapping() -> None:
    policy = QuietPolicy(flap_window=timedelta(minutes=10), flap_threshold=4)
    flips: tuple[datetime, ...] = ()
    for minute in (0, 1, 2):
        flips = record_flip(flips, T0 + timedelta(minutes=minute), policy)
        assert not is_flapping(flips, T0 + timedelta(minutes=minute), policy)
    flips = record_flip(flips, T0 + timedelta(minutes=3), policy)
    assert is_flapping(flips, T0 + timedelta(minutes=3), policy)
    assert len(flips) <= policy.flap_threshold  # bounded storage


def test_flips_spread_over_a_long_time_are_not_flapping() -> None:
    policy = QuietPolicy(flap_window=timedelta(minutes=10), flap_threshold=4)
    flips: tuple[datetime, ...] = ()
    for hour in range(10):
        at = T0 + timedelta(hours=hour)
        flips = record_flip(flips, at, policy)
        assert not is_flapping(flips, at, policy)


def test_quiet_period_decision_follows_the_clock() -> None:
    policy = QuietPolicy(quiet_period=timedelta(minutes=5), flap_quiet_period=timedelta(minutes=20))
    clock = FakeClock(T0)
    recovered = clock()
    assert not due(recovered, False, clock(), policy)
    clock.advance(minutes=4, seconds=59)
    assert not due(recovered, False, clock(), policy)
    clock.advance(seconds=1)
    assert due(recovered, False, clock(), policy)
    assert not due(recovered, True, clock(), policy)  # flapping waits longer
    clock.advance(minutes=15)
    assert due(recovered, True, clock(), policy)
    assert not due(None, False, clock(), policy)


def test_zero_quiet_period_resolves_at_once_unless_flapping() -> None:
    policy = QuietPolicy(quiet_period=timedelta(0), flap_quiet_period=timedelta(minutes=10))
    assert hold(False, policy) == timedelta(0)
    assert hold(True, policy) == timedelta(minutes=10)
