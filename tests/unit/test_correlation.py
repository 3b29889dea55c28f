from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.api.incidents.correlation import (
    Action,
    CorrelationPolicy,
    IncidentView,
    ServiceGraph,
    Signal,
    correlate,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = CorrelationPolicy(reopen_window=timedelta(minutes=15))
GRAPH = CorrelationPolicy(
    group_window=timedelta(minutes=5),
    graph=ServiceGraph.from_mapping({"checkout": ["payments"]}),
)


def _signal(status: str, series: str = "s1", service: str = "checkout") -> Signal:
    return Signal(status, service, series, NOW)


def _open(
    incident_id: str, *series: str, service: str = "checkout", minutes_ago: float = 1
) -> IncidentView:
    return IncidentView(
        incident_id,
        frozenset(series),
        service=service,
        last_signal_at=NOW - timedelta(minutes=minutes_ago),
    )


def test_first_firing_signal_opens_an_incident() -> None:
    assert correlate(_signal("firing"), [], None, POLICY).action is Action.OPEN


def test_firing_signal_joins_the_open_incident_of_its_service() -> None:
    decision = correlate(_signal("firing", "s2"), [_open("i1", "s1")], None, POLICY)
    assert (decision.action, decision.incident_id) == (Action.ATTACH, "i1")


def test_same_fingerprint_firing_again_is_a_duplicate() -> None:
    decision = correlate(_signal("firing", "s1"), [_open("i1", "s1")], None, POLICY)
    assert (decision.action, decision.incident_id) == (Action.DEDUP, "i1")


def test_signal_joins_a_dependency_incident_active_within_the_group_window() -> None:
    payments = _open("i1", "p1", service="payments", minutes_ago=2)
    decision = correlate(_signal("firing", "c1"), [payments], None, GRAPH)
    assert (decision.action, decision.incident_id) == (Action.ATTACH, "i1")


def test_dependency_incident_quiet_for_longer_than_the_window_is_not_joined() -> None:
    payments = _open("i1", "p1", service="payments", minutes_ago=30)
    assert correlate(_signal("firing", "c1"), [payments], None, GRAPH).action is Action.OPEN


def test_unrelated_service_incident_is_never_joined() -> None:
    other = _open("i1", "x1", service="search", minutes_ago=0)
    assert correlate(_signal("firing", "c1"), [other], None, GRAPH).action is Action.OPEN


def test_own_service_incident_wins_over_a_neighbour() -> None:
    payments = _open("p", "p1", service="payments", minutes_ago=0)
    own = _open("c", "c1", service="checkout", minutes_ago=10)
    decision = correlate(_signal("firing", "c2"), [payments, own], None, GRAPH)
    assert decision.incident_id == "c"


def test_recently_resolved_incident_is_reopened_instead_of_a_new_one() -> None:
    resolved = IncidentView("i1", frozenset(), resolved_at=NOW - timedelta(minutes=5))
    decision = correlate(_signal("firing"), [], resolved, POLICY)
    assert (decision.action, decision.incident_id) == (Action.REOPEN, "i1")


def test_long_resolved_incident_is_not_reopened() -> None:
    resolved = IncidentView("i1", frozenset(), resolved_at=NOW - timedelta(hours=2))
    assert correlate(_signal("firing"), [], resolved, POLICY).action is Action.OPEN


def test_incident_recovers_only_when_its_last_firing_series_recovers() -> None:
    two = _open("i1", "s1", "s2")
    assert correlate(_signal("resolved", "s1"), [two], None, POLICY).action is Action.CLEAR
    one = _open("i1", "s2")
    assert correlate(_signal("resolved", "s2"), [one], None, POLICY).action is Action.RESOLVE


def test_recovery_is_routed_to_the_incident_holding_the_fingerprint() -> None:
    holder = _open("p", "c1", service="payments")
    own = _open("c", "c2")
    decision = correlate(_signal("resolved", "c1"), [own, holder], None, GRAPH)
    assert (decision.action, decision.incident_id) == (Action.RESOLVE, "p")


def test_recovery_of_an_unknown_series_is_ignored() -> None:
    assert correlate(_signal("resolved"), [], None, POLICY).action is Action.IGNORE
    other = _open("i1", "s9")
    assert correlate(_signal("resolved"), [other], None, POLICY).action is Action.IGNORE


def test_a_service_that_joined_a_neighbours_incident_keeps_joining_it() -> None:
    joined = IncidentView(
        "p",
        frozenset({"p1", "c1"}),
        service="payments",
        last_signal_at=NOW - timedelta(hours=1),
        services=frozenset({"payments", "checkout"}),
    )
    decision = correlate(_signal("firing", "c2"), [joined], None, GRAPH)
    assert (decision.action, decision.incident_id) == (Action.ATTACH, "p")
