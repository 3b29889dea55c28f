"""Match an incident against policies and propose actions (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.core.events import Severity
from services.remediate.policies.model import SEVERITY_ORDER, Policy, PolicySet, Risk

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_.-]+)?)\}")


@dataclass(frozen=True)
class IncidentFacts:
    """What a policy may look at: the incident's service, labels, anomaly kinds, severity."""

    incident_id: str
    service: str
    severity: Severity
    kinds: frozenset[str] = frozenset()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProposedAction:
    """An action a policy proposes for an incident, with everything approval needs."""

    policy: str
    owner: str
    incident_id: str
    action: str
    target: str
    params: dict[str, Any]
    risk: Risk
    auto_approved: bool
    required_approvals: int
    approvers: tuple[str, ...]
    ttl: timedelta
    escalate_to: str


def matches(policy: Policy, incident: IncidentFacts) -> bool:
    """Whether every criterion of the policy holds for the incident."""
    rule = policy.match
    if not policy.enabled:
        return False
    if rule.services and incident.service not in rule.services:
        return False
    if any(incident.labels.get(k) != v for k, v in rule.labels.items()):
        return False
    if rule.anomaly_kinds and not incident.kinds.intersection(rule.anomaly_kinds):
        return False
    return SEVERITY_ORDER[incident.severity] >= SEVERITY_ORDER[rule.min_severity]


def render(template: str, incident: IncidentFacts) -> str | None:
    """Fill `{service}`, `{severity}`, `{incident_id}`, `{labels.X}`; None if one is unknown."""
    values = {
        "service": incident.service,
        "severity": str(incident.severity),
        "incident_id": incident.incident_id,
        "kind": ",".join(sorted(incident.kinds)),
    }
    missing = False

    def fill(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        value = incident.labels.get(name[7:]) if name.startswith("labels.") else values.get(name)
        if value is None:
            missing = True
            return ""
        return value

    out = _PLACEHOLDER.sub(fill, template)
    return None if missing else out


class _Missing(Exception):
    pass


def _render_value(value: Any, incident: IncidentFacts) -> Any:
    if isinstance(value, str):
        rendered = render(value, incident)
        if rendered is None:
            raise _Missing(value)
        return rendered
    if isinstance(value, dict):
        return {k: _render_value(v, incident) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, incident) for v in value]
    return value


def _render_params(params: dict[str, Any], incident: IncidentFacts) -> dict[str, Any] | None:
    try:
        return {k: _render_value(v, incident) for k, v in params.items()}
    except _Missing:
        return None


def propose(policies: PolicySet, incident: IncidentFacts) -> list[ProposedAction]:
    """Every action of every matching policy, in policy order.

    An action whose target or parameters name a label the incident lacks is skipped: acting
    on a half-filled target is worse than proposing nothing.
    """
    proposed: list[ProposedAction] = []
    for policy in policies.policies:
        if not matches(policy, incident):
            continue
        rule = policy.approval
        for spec in policy.actions:
            target = render(spec.target, incident)
            params = _render_params(spec.params, incident)
            if target is None or params is None:
                continue
            proposed.append(
                ProposedAction(
                    policy=policy.name,
                    owner=policy.owner,
                    incident_id=incident.incident_id,
                    action=spec.action,
                    target=target,
                    params=params,
                    risk=spec.risk,
                    auto_approved=rule.auto_approve and spec.risk == "low",
                    required_approvals=rule.required,
                    approvers=tuple(rule.approvers),
                    ttl=rule.ttl,
                    escalate_to=rule.escalate_to,
                )
            )
    return proposed
