"""Safety rails: small pure classes with an injected clock, combined by `SafetyRails`."""

from services.remediate.safety.blast import BlastRadius
from services.remediate.safety.breaker import BreakerState, CircuitBreaker
from services.remediate.safety.killswitch import KillSwitch
from services.remediate.safety.ledger import Ledger, LedgerEntry, StoreLedger
from services.remediate.safety.rails import SafetyRails, Verdict
from services.remediate.safety.ratelimit import RateLimits, TokenBucket

__all__ = [
    "BlastRadius",
    "BreakerState",
    "CircuitBreaker",
    "KillSwitch",
    "Ledger",
    "LedgerEntry",
    "RateLimits",
    "SafetyRails",
    "StoreLedger",
    "TokenBucket",
    "Verdict",
]
