"""Errors of the remediation domain, rooted in the project's base error."""

from __future__ import annotations

from services.core.errors import Conflict, Forbidden, VigilError


class PolicyError(VigilError):
    """A policy file or definition is invalid."""


class ApprovalError(Conflict):
    """The approval cannot make this transition in its current state."""


class SelfApproval(Forbidden):
    """The requester or the policy's owner tried to approve their own action."""


class NotAnApprover(Forbidden):
    """The actor is not among the policy's eligible approvers."""


class ExecutorError(VigilError):
    """An executor could not carry out an action (the target refused, or is unreachable)."""


class Refused(ExecutorError):
    """The executor refused the action before changing anything (e.g. no opt-in annotation)."""
