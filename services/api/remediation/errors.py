"""Errors of remediation decisions, each carrying a message fit to show the person deciding."""

from __future__ import annotations

from services.core.errors import Conflict, Forbidden, NotFound, VigilError


class RemediationError(VigilError):
    """Base of every refusal of a remediation decision (API, Slack buttons, ...)."""


class ActionNotFound(RemediationError, NotFound):
    """No action with that id."""


class SelfApprovalRefused(RemediationError, Forbidden):
    """The requester or the policy's owner tried to approve their own action."""


class NotAllowed(RemediationError, Forbidden):
    """The actor may not decide on this action (not among the policy's approvers)."""


class AlreadyDecided(RemediationError, Conflict):
    """The action is no longer waiting for a decision (or this person already approved)."""


class Expired(RemediationError, Conflict):
    """The approval request's TTL passed before the decision arrived."""


class PolicyConflict(RemediationError, Conflict):
    """A policy cannot be stored (its name belongs to a policy file)."""


class InvalidPolicy(RemediationError):
    """A policy sent through the API does not validate."""
