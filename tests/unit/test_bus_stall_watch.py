"""When a partition's commit is stuck with messages waiting, the bus reads it again."""

from __future__ import annotations

from services.core.bus.stall import StallWatch


def test_a_commit_stuck_behind_waiting_messages_is_read_again_after_the_period() -> None:
    watch: StallWatch[str] = StallWatch(stall_after_s=30)
    assert watch.observe(0, {"p0": (140, 239)}, handler_blocked=False) == []
    assert watch.observe(29, {"p0": (140, 239)}, handler_blocked=False) == []
    assert watch.observe(30, {"p0": (140, 239)}, handler_blocked=False) == [("p0", 140)]
    # Once re-read, it gets a whole period before it is judged again.
    assert watch.observe(31, {"p0": (140, 239)}, handler_blocked=False) == []
    assert watch.observe(60, {"p0": (140, 239)}, handler_blocked=False) == [("p0", 140)]


def test_a_moving_commit_is_not_a_stall() -> None:
    watch: StallWatch[str] = StallWatch(stall_after_s=30)
    for t in range(0, 100, 10):
        assert watch.observe(t, {"p0": (t, t + 50)}, handler_blocked=False) == []


def test_a_caught_up_partition_is_not_a_stall_however_long_it_is_quiet() -> None:
    watch: StallWatch[str] = StallWatch(stall_after_s=30)
    assert watch.observe(0, {"p0": (80, 80)}, handler_blocked=False) == []
    assert watch.observe(100, {"p0": (80, 80)}, handler_blocked=False) == []
    # A message arrives: the period starts now, not when the partition went quiet.
    assert watch.observe(101, {"p0": (80, 81)}, handler_blocked=False) == []
    assert watch.observe(120, {"p0": (80, 81)}, handler_blocked=False) == []
    assert watch.observe(131, {"p0": (80, 81)}, handler_blocked=False) == [("p0", 80)]


def test_a_handler_blocked_on_a_retry_holds_the_commit_on_purpose() -> None:
    watch: StallWatch[str] = StallWatch(stall_after_s=30)
    watch.observe(0, {"p0": (10, 50)}, handler_blocked=True)
    assert watch.observe(60, {"p0": (10, 50)}, handler_blocked=True) == []
    assert watch.observe(61, {"p0": (10, 50)}, handler_blocked=False) == [("p0", 10)]


def test_nothing_committed_yet_reads_from_the_start_and_revoked_partitions_are_forgotten() -> None:
    watch: StallWatch[str] = StallWatch(stall_after_s=30)
    watch.observe(0, {"p0": (None, 5), "p1": (3, 9)}, handler_blocked=False)
    assert watch.observe(30, {"p0": (None, 5)}, handler_blocked=False) == [("p0", 0)]
    # p1 came back after a revoke: its clock starts again.
    assert watch.observe(31, {"p0": (None, 5), "p1": (3, 9)}, handler_blocked=False) == []
