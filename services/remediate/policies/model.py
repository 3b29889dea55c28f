"""The policy model and its YAML loader.

A policy file holds a list of policies::

    policies:
      - name: restart-checkout
        owner: alice                  # may not approve actions of this policy
        match:
          services: [checkout]        # empty: any service
          labels: {env: prod}         # every label must be present and equal
          anomaly_kinds: [metric]     # empty: any kind
          min_severity: error
        actions:
          - action: k8s.restart
            target: "prod/{service}"  # {service}, {kind}, {severity}, {incident_id}, {labels.X}
            risk: low
        approval:
          auto_approve: true          # honoured only for low-risk actions
          required: 2                 # N distinct approvers ...
          approvers: [bob, carol, dan] # ... out of these M (empty: anyone but the requester)
          ttl: 15m
          escalate_to: oncall-payments
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.core.events import Severity
from services.remediate.errors import PolicyError

Risk = Literal["low", "medium", "high"]
SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """`90`, `"90s"`, `"15m"`, `"2h"`, `"1d"` or a timedelta as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    if isinstance(value, str) and (m := _DURATION.match(value.strip())):
        return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h)")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Match(_Frozen):
    """Which incidents a policy applies to; every given criterion must hold."""

    services: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    anomaly_kinds: list[str] = Field(default_factory=list)
    min_severity: Severity = Severity.INFO


class ActionSpec(_Frozen):
    """One action a policy proposes, with its risk tier."""

    action: str = Field(min_length=1)
    target: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Risk = "medium"


class ApprovalRule(_Frozen):
    """Who must approve, how many of them, and for how long the request stays open."""

    auto_approve: bool = False
    required: int = Field(default=1, ge=1)
    approvers: list[str] = Field(default_factory=list)
    ttl: timedelta = timedelta(minutes=30)
    escalate_to: str = ""

    @field_validator("ttl", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        ttl = parse_duration(value)
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        return ttl

    @model_validator(mode="after")
    def _enough_approvers(self) -> ApprovalRule:
        if self.approvers and len(set(self.approvers)) < self.required:
            raise ValueError(
                f"required={self.required} but only {len(set(self.approvers))} approvers listed"
            )
        return self


class Policy(_Frozen):
    """A named rule: incidents it matches, actions it proposes, approval it needs."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    owner: str = ""
    enabled: bool = True
    match: Match = Field(default_factory=Match)
    actions: list[ActionSpec] = Field(min_length=1)
    approval: ApprovalRule = Field(default_factory=ApprovalRule)


class PolicySet(_Frozen):
    """Every policy in force, in file order (which is also proposal order)."""

    policies: list[Policy] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> PolicySet:
        names = [p.name for p in self.policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate policy names: {', '.join(duplicates)}")
        return self


def parse_policies(text: str) -> PolicySet:
    """Parse a YAML policy document; raises PolicyError with a readable reason."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}") from exc
    if isinstance(data, list):
        data = {"policies": data}
    try:
        return PolicySet.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise PolicyError(f"invalid policies: {problems}") from exc


def load_policies(*paths: Path) -> PolicySet:
    """Load and merge policy files (a directory means every *.yaml / *.yml in it, sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            files.append(path)
    policies: list[Policy] = []
    for file in files:
        try:
            policies.extend(parse_policies(file.read_text()).policies)
        except PolicyError as exc:
            raise PolicyError(f"{file}: {exc}") from exc
    try:
        return PolicySet(policies=policies)
    except ValidationError as exc:
        raise PolicyError(str(exc.errors()[0]["msg"])) from exc
