"""The global kill switch: while engaged, no automation runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class KillSwitch:
    """Engaged by an operator (through the api) or by configuration."""

    engaged: bool = False
    reason: str = ""
    by: str = ""
    at: datetime | None = None

    def engage(self, *, by: str, reason: str, at: datetime) -> None:
        """Stop all automation."""
        self.engaged, self.by, self.reason, self.at = True, by, reason, at

    def release(self, *, by: str, at: datetime) -> None:
        """Allow automation again."""
        self.engaged, self.by, self.reason, self.at = False, by, "", at

    def refusal(self) -> str | None:
        """Why automation is stopped, or None."""
        if not self.engaged:
            return None
        who = f" by {self.by}" if self.by else ""
        return f"kill switch engaged{who}: {self.reason or 'no reason given'}"
