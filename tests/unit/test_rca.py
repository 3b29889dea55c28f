from __future__ import annotations

from services.detect.rca import Symptom, rank

CHAIN = {"frontend": ["checkout"], "checkout": ["payments"], "payments": ["postgres"]}


def order(calls: dict[str, list[str]], symptoms: list[Symptom]) -> list[str]:
    return [cause.service for cause in rank(calls, symptoms)]


def test_the_failing_leaf_of_a_chain_ranks_first() -> None:
    symptoms = [Symptom("frontend", 130), Symptom("checkout", 120), Symptom("postgres", 100)]
    ranking = rank(CHAIN, symptoms)
    assert ranking[0].service == "postgres"
    assert "explains checkout, frontend" in ranking[0].reason
    assert [c.service for c in ranking[1:3]] == ["checkout", "frontend"]


def test_a_callee_explains_its_callers_even_when_detected_a_little_later() -> None:
    symptoms = [Symptom("frontend", 100), Symptom("checkout", 100), Symptom("payments", 130)]
    assert order(CHAIN, symptoms)[0] == "payments"


def test_a_callee_turning_anomalous_long_after_its_callers_explains_nothing() -> None:
    symptoms = [Symptom("checkout", 100), Symptom("payments", 1000)]
    ranking = rank(CHAIN, symptoms)
    assert ranking[0].service == "checkout"
    assert "explained by" not in ranking[0].reason


def test_a_silent_dependency_of_anomalous_callers_is_a_candidate() -> None:
    calls = {"frontend": ["checkout"], "checkout": ["shipping"]}
    ranking = rank(calls, [Symptom("frontend", 100), Symptom("checkout", 100)])
    assert [c.service for c in ranking] == ["checkout", "frontend", "shipping"]
    assert not ranking[-1].anomalous
    assert ranking[-1].as_dict()["service"] == "shipping"


def test_unrelated_services_rank_by_time_and_an_empty_incident_has_no_cause() -> None:
    assert order({}, [Symptom("b", 200), Symptom("a", 100)]) == ["a", "b"]
    assert rank(CHAIN, []) == []


def test_cycles_in_the_graph_do_not_hang_the_ranking() -> None:
    calls = {"a": ["b"], "b": ["a"]}
    assert order(calls, [Symptom("a", 100), Symptom("b", 50)])[0] == "b"
