"""One exception hierarchy for Vigil. Adapters translate third-party errors into these."""

from __future__ import annotations


class VigilError(Exception):
    """Base of every error Vigil raises on purpose."""


class ConfigurationError(VigilError):
    """Settings are missing or inconsistent; the service cannot start."""


class InvalidMessage(VigilError):
    """A message could not be parsed or validated; it belongs in the dead-letter topic."""


class RetryableError(VigilError):
    """A transient failure (broker or database unreachable): the same work may succeed later."""


class NotFound(VigilError):
    """The requested entity does not exist."""


class Conflict(VigilError):
    """The request conflicts with the entity's current state."""


class Unauthorized(VigilError):
    """No credentials, or credentials that identify nobody (missing, unknown or revoked key)."""


class Forbidden(VigilError):
    """The caller is known but its role does not allow this action."""
