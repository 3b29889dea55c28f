"""Remediation policies: which incidents they match and which actions they propose."""

from services.remediate.policies.matcher import IncidentFacts, ProposedAction, propose
from services.remediate.policies.model import (
    ActionSpec,
    ApprovalRule,
    Match,
    Policy,
    PolicySet,
    load_policies,
    parse_policies,
)

__all__ = [
    "ActionSpec",
    "ApprovalRule",
    "IncidentFacts",
    "Match",
    "Policy",
    "PolicySet",
    "ProposedAction",
    "load_policies",
    "parse_policies",
    "propose",
]
