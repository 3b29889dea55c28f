"""Safety rails with a FakeClock: rate limits, blast radius, circuit breaker, kill switch."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from services.core.bus.base import DictStateStore
from services.remediate.safety import (
    BlastRadius,
    BreakerState,
    CircuitBreaker,
    KillSwitch,
    RateLimits,
    SafetyRails,
    StoreLedger,
    TokenBucket,
)
from tests.unit.remediate_fakes import FakeClock


def limits(clock: FakeClock, **kw: float) -> RateLimits:
    args: dict[str, float] = {
        "per_target_burst": 2,
        "per_target_per_hour": 1,
        "global_burst": 3,
        "global_per_hour": 60,
    }
    args.update(kw)
    return RateLimits(clock=clock, **args)


def rails(clock: FakeClock, **kw: object) -> SafetyRails:
    parts: dict[str, object] = {
        "kill_switch": KillSwitch(),
        "blast": BlastRadius(min_replicas=2, max_targets_per_hour=10, clock=clock),
        "limits": limits(clock, per_target_burst=10, global_burst=10),
        "breaker": CircuitBreaker(threshold=3, cool_down=timedelta(minutes=10), clock=clock),
    }
    parts.update(kw)
    return SafetyRails(**parts)  # type: ignore[arg-type]


def state_of(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # a call, so mypy does not narrow between asserts


def test_token_bucket_refills_over_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity=2, per_hour=6, clock=clock)
    assert bucket.take() and bucket.take()
    assert not bucket.take()
    clock.advance(minutes=9)
    assert not bucket.take()
    clock.advance(minutes=1)
    assert bucket.take()


def test_rate_limit_per_target_leaves_other_targets_alone() -> None:
    clock = FakeClock()
    rl = limits(clock)
    for _ in range(2):
        assert rl.refusal("a") is None
        rl.take("a")
    assert rl.refusal("a") == "rate limit for target a reached"
    assert rl.refusal("b") is None


def test_global_rate_limit_covers_every_target() -> None:
    clock = FakeClock()
    rl = limits(clock)
    for target in ("a", "b", "c"):
        rl.take(target)
    assert rl.refusal("d") == "global remediation rate limit reached"
    clock.advance(minutes=1)
    assert rl.refusal("d") is None


def test_blast_radius_never_scales_below_the_floor() -> None:
    blast = BlastRadius(min_replicas=2, max_targets_per_hour=5, clock=FakeClock())
    assert "below the floor of 2" in (blast.refusal("k8s.scale", "t", {"replicas": 1}) or "")
    assert blast.refusal("k8s.scale", "t", {"replicas": 2}) is None


def test_blast_radius_limits_distinct_targets_per_hour() -> None:
    clock = FakeClock()
    blast = BlastRadius(min_replicas=1, max_targets_per_hour=2, clock=clock)
    blast.record("a")
    clock.advance(minutes=10)
    blast.record("b")
    assert blast.refusal("k8s.restart", "a", {}) is None  # already touched: no new target
    assert "already touched 2 targets" in (blast.refusal("k8s.restart", "c", {}) or "")
    clock.advance(minutes=51)  # "a" leaves the hour
    assert blast.refusal("k8s.restart", "c", {}) is None


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cool_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cool_down=timedelta(minutes=10), clock=clock)
    assert not breaker.record_failure()
    breaker.record_success()  # resets the streak
    assert not breaker.record_failure()
    assert not breaker.record_failure()
    assert breaker.record_failure()  # third in a row: opens, page someone
    assert state_of(breaker) == BreakerState.OPEN
    assert not breaker.allow()
    clock.advance(minutes=10)
    assert state_of(breaker) == BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # one trial at a time
    assert breaker.record_failure()  # the trial failed: open again
    assert state_of(breaker) == BreakerState.OPEN
    clock.advance(minutes=10)
    assert breaker.allow()
    breaker.record_success()
    assert state_of(breaker) == BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_kill_switch_stops_everything_until_released() -> None:
    clock = FakeClock()
    r = rails(clock)
    r.kill_switch.engage(by="alice", reason="bad deploy in flight", at=clock.now())
    verdict = r.admit("k8s.restart", "t", {})
    assert not verdict.allowed
    assert verdict.reason == "kill switch engaged by alice: bad deploy in flight"
    r.kill_switch.release(by="alice", at=clock.now())
    assert r.admit("k8s.restart", "t", {}).allowed


def test_rails_spend_tokens_only_for_admitted_actions() -> None:
    clock = FakeClock()
    r = rails(clock, limits=limits(clock, per_target_burst=1))
    assert not r.admit("k8s.scale", "t", {"replicas": 0}).allowed  # blast radius
    assert r.admit("k8s.scale", "t", {"replicas": 3}).allowed
    verdict = r.admit("k8s.scale", "t", {"replicas": 3})
    assert verdict.reason == "rate limit for target t reached"


def test_rails_report_an_open_breaker() -> None:
    clock = FakeClock()
    r = rails(clock)
    opened = [r.outcome(succeeded=False) for _ in range(3)]
    assert opened == [False, False, True]
    verdict = r.admit("k8s.restart", "t", {})
    assert verdict.reason == "circuit breaker open after repeated failures"


def test_ledger_records_durably_and_prunes_old_entries() -> None:
    clock = FakeClock()
    store = DictStateStore()
    ledger = StoreLedger(store, clock, retention=timedelta(days=1), max_per_target=2)

    async def scenario() -> None:
        await ledger.started("t", "c1")
        entry = ledger.get("t", "c1")
        assert entry is not None and entry.state == "started"
        await ledger.finished("t", "c1", {"status": "succeeded"})
        finished = ledger.get("t", "c1")
        assert finished is not None and finished.result == {"status": "succeeded"}
        clock.advance(days=2)
        await ledger.started("t", "c2")
        assert ledger.get("t", "c1") is None  # past retention
        await ledger.started("t", "c3")
        await ledger.started("t", "c4")
        assert sorted(json.loads(store.data["t"])) == ["c3", "c4"]  # capped per target

    asyncio.run(scenario())
