"""Blast-radius limits: never scale below a floor, never touch too many targets an hour."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from services.remediate.clock import Clock

HOUR = timedelta(hours=1)


class BlastRadius:
    """Refuses actions that would hurt too much at once."""

    def __init__(self, *, min_replicas: int, max_targets_per_hour: int, clock: Clock) -> None:
        self.min_replicas = min_replicas
        self.max_targets_per_hour = max_targets_per_hour
        self.clock = clock
        self._touched: deque[tuple[datetime, str]] = deque()

    def _recent_targets(self) -> set[str]:
        horizon = self.clock.now() - HOUR
        while self._touched and self._touched[0][0] <= horizon:
            self._touched.popleft()
        return {target for _, target in self._touched}

    def refusal(self, action: str, target: str, params: dict[str, Any]) -> str | None:
        """Why the action is too big, or None."""
        replicas = params.get("replicas")
        if action.endswith(".scale") and isinstance(replicas, int):
            if replicas < self.min_replicas:
                return f"scaling {target} to {replicas} is below the floor of {self.min_replicas}"
        recent = self._recent_targets()
        if target not in recent and len(recent) >= self.max_targets_per_hour:
            return (
                f"already touched {len(recent)} targets in the last hour "
                f"(limit {self.max_targets_per_hour})"
            )
        return None

    def record(self, target: str) -> None:
        """Count an action on `target` against the hourly limit."""
        self._touched.append((self.clock.now(), target))
