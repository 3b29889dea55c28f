"""Verification: watching signals after an action, rollback and escalation, success rates."""

from __future__ import annotations

from datetime import timedelta

from services.core.events import RemediationCommand
from services.remediate.executors.base import ExecutorRegistry
from services.remediate.executors.kubernetes import KubernetesConfig, KubernetesExecutor
from services.remediate.verification import (
    SignalChange,
    SuccessStats,
    VerdictStatus,
    evaluate,
    follow_up,
)
from tests.unit.remediate_fakes import T0, FakeClock

WINDOW = timedelta(minutes=10)
SETTLE = timedelta(minutes=2)


def change(series: str, minutes: float, firing: bool) -> SignalChange:
    return SignalChange(series, T0 + timedelta(minutes=minutes), firing)


def verdict(now_min: float, *changes: SignalChange, resolved: bool = False) -> VerdictStatus:
    return evaluate(
        acted_at=T0,
        now=T0 + timedelta(minutes=now_min),
        changes=changes,
        window=WINDOW,
        settle=SETTLE,
        incident_resolved=resolved,
    ).status


def test_recovered_signal_that_stays_quiet_is_verified() -> None:
    changes = (change("latency", -5, True), change("latency", 3, False))
    assert verdict(4, *changes) is VerdictStatus.WATCHING  # not settled yet
    assert verdict(5, *changes) is VerdictStatus.VERIFIED


def test_signal_still_firing_at_the_end_of_the_window_fails() -> None:
    changes = (change("latency", -5, True),)
    assert verdict(9, *changes) is VerdictStatus.WATCHING
    result = evaluate(acted_at=T0, now=T0 + WINDOW, changes=changes, window=WINDOW)
    assert result.status is VerdictStatus.FAILED
    assert result.firing == ("latency",)


def test_a_new_signal_firing_after_the_action_fails_it() -> None:
    changes = (
        change("latency", -5, True),
        change("latency", 1, False),
        change("errors", 6, True),
    )
    assert verdict(10, *changes) is VerdictStatus.FAILED


def test_flapping_signal_must_settle_again() -> None:
    changes = (
        change("latency", -5, True),
        change("latency", 1, False),
        change("latency", 2, True),
        change("latency", 4, False),
    )
    assert verdict(5, *changes) is VerdictStatus.WATCHING
    assert verdict(6, *changes) is VerdictStatus.VERIFIED


def test_resolved_incident_is_verified() -> None:
    changes = (change("latency", -5, True), change("latency", 1, False))
    assert verdict(1, *changes, resolved=True) is VerdictStatus.VERIFIED


def test_failed_scale_is_rolled_back_and_escalated() -> None:
    registry = ExecutorRegistry(
        [KubernetesExecutor(KubernetesConfig(host="http://x"), FakeClock())]
    )
    command = RemediationCommand(
        incident_id="i",
        request_id="r",
        action="k8s.scale",
        target="prod/checkout",
        params={"replicas": 8},
    )
    failed = evaluate(
        acted_at=T0, now=T0 + WINDOW, changes=[change("latency", -1, True)], window=WINDOW
    )
    plan = follow_up(failed, command, {"previous_replicas": 4}, registry)
    assert plan is not None and plan.escalate
    assert plan.rollback is not None
    assert (plan.rollback.action, plan.rollback.params) == ("k8s.scale", {"replicas": 4})
    restart = command.model_copy(update={"action": "k8s.restart", "params": {}})
    no_undo = follow_up(failed, restart, {}, registry)
    assert no_undo is not None and no_undo.rollback is None and no_undo.escalate
    ok = evaluate(acted_at=T0, now=T0 + WINDOW, changes=[], window=WINDOW)
    assert follow_up(ok, command, {}, registry) is None


def test_success_rates_per_runbook_and_incident_kind() -> None:
    stats = SuccessStats()
    for outcome in ("attempt", "succeeded", "verified", "attempt", "failed", "rolled_back"):
        stats.record("k8s.restart", "latency", outcome)
    stats.record("k8s.restart", "errors", "attempt")
    rows = {(r["runbook"], r["incident_kind"]): r for r in stats.rows()}
    assert rows[("k8s.restart", "latency")]["success_rate"] == 0.5
    assert rows[("k8s.restart", "latency")]["rolled_back"] == 1
    assert rows[("k8s.restart", "errors")]["success_rate"] == 0.0
