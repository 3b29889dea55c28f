"""All safety rails together, consulted by the worker before and after each action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.remediate.safety.blast import BlastRadius
from services.remediate.safety.breaker import CircuitBreaker
from services.remediate.safety.killswitch import KillSwitch
from services.remediate.safety.ratelimit import RateLimits


@dataclass(frozen=True)
class Verdict:
    """Whether an action may run, and why not."""

    allowed: bool
    reason: str = ""


class SafetyRails:
    """Kill switch, blast radius, rate limits and circuit breaker, in that order."""

    def __init__(
        self,
        *,
        kill_switch: KillSwitch,
        blast: BlastRadius,
        limits: RateLimits,
        breaker: CircuitBreaker,
        api_switch: KillSwitch | None = None,
    ) -> None:
        self.kill_switch = kill_switch
        # The api's switch, heard on remediation.control; either switch stops everything.
        self.api_switch = api_switch or KillSwitch()
        self.blast = blast
        self.limits = limits
        self.breaker = breaker

    def admit(self, action: str, target: str, params: dict[str, Any]) -> Verdict:
        """Decide whether the action may run now; if so, its tokens are spent."""
        reason = (
            self.kill_switch.refusal()
            or self.api_switch.refusal()
            or self.blast.refusal(action, target, params)
            or self.limits.refusal(target)
        )
        if reason is not None:
            return Verdict(False, reason)
        # Last, because in half-open it hands out the single trial slot.
        if not self.breaker.allow():
            return Verdict(False, "circuit breaker open after repeated failures")
        self.limits.take(target)
        self.blast.record(target)
        return Verdict(True)

    def outcome(self, *, succeeded: bool) -> bool:
        """Feed an action's outcome to the breaker; True if it just opened (page a human)."""
        if succeeded:
            self.breaker.record_success()
            return False
        return self.breaker.record_failure()
