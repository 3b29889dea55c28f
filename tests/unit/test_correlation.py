from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.api.incidents.correlation import (
    Action,
    CorrelationPolicy,
    IncidentView,
    Signal,
    correlate,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = CorrelationPolicy(reopen_window=timedelta(minutes=15))


def _signal(status: str, series: str = "s1") -> Signal:
    return Signal(status, "checkout", series, NOW)


def test_first_firing_signal_opens_an_incident() -> None:
    assert correlate(_signal("firing"), None, None, POLICY).action is Action.OPEN


def test_firing_signal_joins_the_open_incident_of_its_service() -> None:
    open_incident = IncidentView("i1", frozenset({"s1"}))
    decision = correlate(_signal("firing", "s2"), open_incident, None, POLICY)
    assert (decision.action, decision.incident_id) == (Action.ATTACH, "i1")


def test_recently_resolved_incident_is_reopened_instead_of_a_new_one() -> None:
    resolved = IncidentView("i1", frozenset(), resolved_at=NOW - timedelta(minutes=5))
    decision = correlate(_signal("firing"), None, resolved, POLICY)
    assert (decision.action, decision.incident_id) == (Action.REOPEN, "i1")


def test_long_resolved_incident_is_not_reopened() -> None:
    resolved = IncidentView("i1", frozenset(), resolved_at=NOW - timedelta(hours=2))
    assert correlate(_signal("firing"), None, resolved, POLICY).action is Action.OPEN


def test_incident_resolves_only_when_its_last_firing_series_recovers() -> None:
    two = IncidentView("i1", frozenset({"s1", "s2"}))
    assert correlate(_signal("resolved", "s1"), two, None, POLICY).action is Action.CLEAR
    one = IncidentView("i1", frozenset({"s2"}))
    assert correlate(_signal("resolved", "s2"), one, None, POLICY).action is Action.RESOLVE


def test_recovery_of_an_unknown_series_is_ignored() -> None:
    assert correlate(_signal("resolved"), None, None, POLICY).action is Action.IGNORE
    other = IncidentView("i1", frozenset({"s9"}))
    assert correlate(_signal("resolved"), other, None, POLICY).action is Action.IGNORE
