"""Policies: YAML loading and matching incidents to proposed actions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from services.core.events import Severity
from services.remediate.errors import PolicyError
from services.remediate.policies import IncidentFacts, load_policies, parse_policies, propose

POLICIES = """
policies:
  - name: restart-checkout
    owner: alice
    match:
      services: [checkout]
      labels: {env: prod}
      anomaly_kinds: [metric]
      min_severity: error
    actions:
      - action: k8s.restart
        target: "{labels.namespace}/{service}"
        risk: low
      - action: k8s.scale
        target: "{labels.namespace}/{service}"
        params: {replicas: 6}
        risk: medium
    approval:
      auto_approve: true
      required: 2
      approvers: [bob, carol, dan]
      ttl: 15m
      escalate_to: oncall-payments
  - name: any-log-storm
    match: {anomaly_kinds: [log]}
    actions:
      - action: webhook.call
        target: "{service}"
        params: {webhook: storm, payload: {incident: "{incident_id}"}}
"""


def facts(**overrides: object) -> IncidentFacts:
    base: dict[str, object] = {
        "incident_id": "inc-1",
        "service": "checkout",
        "severity": Severity.CRITICAL,
        "kinds": frozenset({"metric"}),
        "labels": {"env": "prod", "namespace": "shop"},
    }
    base.update(overrides)
    return IncidentFacts(**base)  # type: ignore[arg-type]


def test_matching_incident_gets_the_policy_actions_with_risk_and_approval_rules() -> None:
    proposed = propose(parse_policies(POLICIES), facts())
    assert [(p.action, p.target, p.risk, p.auto_approved) for p in proposed] == [
        ("k8s.restart", "shop/checkout", "low", True),
        ("k8s.scale", "shop/checkout", "medium", False),
    ]
    scale = proposed[1]
    assert scale.params == {"replicas": 6}
    assert scale.required_approvals == 2
    assert scale.approvers == ("bob", "carol", "dan")
    assert scale.ttl == timedelta(minutes=15)
    assert scale.escalate_to == "oncall-payments"
    assert scale.owner == "alice"


@pytest.mark.parametrize(
    "overrides",
    [
        {"service": "cart"},
        {"labels": {"env": "staging", "namespace": "shop"}},
        {"kinds": frozenset({"trace"})},
        {"severity": Severity.WARNING},
    ],
)
def test_each_criterion_must_hold(overrides: dict[str, object]) -> None:
    assert propose(parse_policies(POLICIES), facts(**overrides)) == []


def test_action_naming_a_missing_label_is_not_proposed() -> None:
    proposed = propose(parse_policies(POLICIES), facts(labels={"env": "prod"}))
    assert proposed == []


def test_templates_fill_params_too() -> None:
    (action,) = propose(parse_policies(POLICIES), facts(kinds=frozenset({"log"})))
    assert action.params == {"webhook": "storm", "payload": {"incident": "inc-1"}}
    assert action.target == "checkout"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("policies: [", "not valid YAML"),
        ("policies: [{name: a, actions: []}]", "actions"),
        ("policies: [{name: a, actions: [{action: x, target: y, risk: extreme}]}]", "risk"),
        (
            "policies: [{name: a, actions: [{action: x, target: y}],"
            " approval: {required: 3, approvers: [a, b]}}]",
            "only 2 approvers",
        ),
        ("policies: [{name: a, actions: [{action: x, target: y}], approval: {ttl: soon}}]", "ttl"),
        (
            "policies: [{name: a, actions: [{action: x, target: y}]},"
            " {name: a, actions: [{action: x, target: y}]}]",
            "duplicate",
        ),
    ],
)
def test_invalid_policies_are_reported(text: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        parse_policies(text)


def test_load_merges_a_directory_of_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POLICIES)
    (tmp_path / "b.yml").write_text("- name: third\n  actions: [{action: x, target: y}]\n")
    assert [p.name for p in load_policies(tmp_path).policies] == [
        "restart-checkout",
        "any-log-storm",
        "third",
    ]
    (tmp_path / "c.yaml").write_text("- name: third\n  actions: [{action: x, target: y}]\n")
    with pytest.raises(PolicyError, match="duplicate"):
        load_policies(tmp_path)


def test_disabled_policy_proposes_nothing() -> None:
    text = "- name: quiet\n  enabled: false\n  actions: [{action: x, target: y}]\n"
    assert propose(parse_policies(text), facts()) == []
