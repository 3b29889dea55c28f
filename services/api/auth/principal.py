"""Who is acting: a person behind an API key, the CLI, or a part of the system."""

from __future__ import annotations

from dataclasses import dataclass

from services.api.auth.roles import Role


@dataclass(frozen=True)
class Principal:
    """The author of a write, as recorded in timelines and the audit log."""

    name: str
    role: Role
    key_id: str | None = None

    @property
    def label(self) -> str:
        """How the actor appears in timelines: the key's name, or the system part's name."""
        return self.name


CORRELATOR = Principal("correlator", Role.ADMIN)
SWEEPER = Principal("sweeper", Role.ADMIN)
CLI = Principal("cli", Role.ADMIN)
