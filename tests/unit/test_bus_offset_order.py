"""Each partition's messages reach the handler in offset order, none skipped, none acked unseen."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace

from services.core.bus.kafka import _OrderedDelivery
from services.core.bus.order import OffsetGuard, Verdict

H, S, G = Verdict.HANDLE, Verdict.SEEN, Verdict.GAP


def _handle_in_turn(guard: OffsetGuard[str], partition: str, offsets: list[int]) -> list[int]:
    """Feed offsets one by one as a single-message agent does; return those handled."""
    handled = []
    for offset in offsets:
        generation = guard.generation
        if guard.admit([(partition, offset)]) == [H]:
            handled.append(offset)
            guard.done([(partition, offset)], generation)
    return handled


def test_messages_that_went_missing_stop_the_partition_until_they_are_read_again() -> None:
    # The takeover test's case: offsets 0-4 arrive, then 16 onwards; 5-15 never did.
    guard: OffsetGuard[str] = OffsetGuard()
    guard.start("p6", 0)
    assert _handle_in_turn(guard, "p6", [0, 1, 2, 3, 4, 16, 17, 18]) == [0, 1, 2, 3, 4]
    assert guard.seek_to("p6", now=0.0) == 5
    # After the seek: 5-18 in order, then 16-18 again as Faust's buffer drains twice.
    assert _handle_in_turn(guard, "p6", list(range(5, 19)) + [16, 17, 18]) == list(range(5, 19))
    assert guard.next_offset("p6") == 19


def test_only_handled_offsets_may_be_acknowledged() -> None:
    guard: OffsetGuard[str] = OffsetGuard()
    guard.start("p0", 40)
    assert not guard.may_ack("p0", 40)  # delivered, not handled yet
    _handle_in_turn(guard, "p0", [40, 41])
    assert guard.may_ack("p0", 40) and guard.may_ack("p0", 41)
    assert not guard.may_ack("p0", 43)  # a message beyond a gap: never counted as done
    assert not guard.may_ack("p9", 0)  # a partition not (or no longer) ours


def test_a_redelivered_message_is_not_handled_twice() -> None:
    guard: OffsetGuard[str] = OffsetGuard()
    guard.start("p0", 7)
    assert _handle_in_turn(guard, "p0", [7, 8, 9, 7, 8, 9, 10]) == [7, 8, 9, 10]


def test_a_batch_is_handled_up_to_its_first_gap_per_partition() -> None:
    guard: OffsetGuard[str] = OffsetGuard()
    guard.start("a", 0)
    guard.start("b", 5)
    batch = [("a", 0), ("b", 5), ("a", 1), ("b", 7), ("a", 2), ("b", 8), ("b", 4)]
    assert guard.admit(batch) == [H, H, H, G, H, G, S]
    generation = guard.generation
    guard.done([("a", 0), ("b", 5), ("a", 1), ("a", 2)], generation)
    assert guard.next_offset("a") == 3
    assert guard.next_offset("b") == 6


def test_a_handler_call_from_before_a_revocation_moves_nothing() -> None:
    guard: OffsetGuard[str] = OffsetGuard()
    guard.start("p0", 0)
    generation = guard.generation
    assert guard.admit([("p0", 0)]) == [H]
    guard.revoke()  # the partition may be another worker's now
    guard.done([("p0", 0)], generation)
    assert not guard.knows("p0")
    assert not guard.may_ack("p0", 0)


def test_without_a_known_start_the_first_message_sets_it() -> None:
    guard: OffsetGuard[str] = OffsetGuard()
    assert _handle_in_turn(guard, "p0", [12, 13, 15]) == [12, 13]
    assert guard.next_offset("p0") == 14


def test_one_seek_per_gap_until_the_partition_stays_stuck() -> None:
    guard: OffsetGuard[str] = OffsetGuard(reseek_after_s=5)
    guard.start("p0", 5)
    assert guard.seek_to("p0", now=100.0) == 5
    assert guard.seek_to("p0", now=101.0) is None  # the rest of the buffer behind the gap
    assert guard.seek_to("p0", now=105.0) == 5  # still stuck: read again
    _handle_in_turn(guard, "p0", [5])
    assert guard.seek_to("p0", now=105.5) == 6  # a new gap further on is sought at once


def test_a_gap_no_seek_fills_within_the_period_marks_the_consumer_wedged() -> None:
    guard: OffsetGuard[str] = OffsetGuard(reseek_after_s=5, wedged_after_s=30)
    guard.start("p4", 16)
    guard.start("p7", 0)
    assert guard.admit([("p4", 20), ("p7", 20)]) == [G, G]
    guard.seek_to("p4", now=0.0)
    guard.seek_to("p7", now=0.0)
    _handle_in_turn(guard, "p7", [0, 1])  # p7's seek brought its messages; p4's did not
    for now in (5.0, 10.0, 15.0, 20.0, 25.0):
        guard.overdue(now)  # seeks repeated meanwhile: the gap still dates from the first
    assert guard.wedged(now=29.0) == []
    assert guard.wedged(now=30.0) == [("p4", 16)]
    _handle_in_turn(guard, "p4", [16])
    assert guard.wedged(now=60.0) == []


# -- the Kafka bus's adapter around Faust (fake consumer; no broker) -------------------------


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


class _FakeConsumer:
    def __init__(self) -> None:
        self.acked: list[int] = []
        self.seeks: list[tuple[tuple[str, int], int]] = []

    def ack(self, message: _Message) -> bool:
        self.acked.append(message.offset)
        return True

    async def seek(self, tp: tuple[str, int], offset: int) -> None:
        self.seeks.append((tp, offset))


class _CommittedAt(_OrderedDelivery):
    """The adapter with the broker's answer fixed: every partition committed at `at`."""

    def __init__(self, consumer: _FakeConsumer, at: int) -> None:
        super().__init__(SimpleNamespace(consumer=consumer), ["unused:9092"], "g", {"t.metrics"})
        self.at = at

    def _ask_broker(self, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return dict.fromkeys(partitions, self.at)


def test_the_bus_resumes_at_the_committed_offset_not_at_what_faust_hands_over() -> None:
    # The successor's first message was offset 17 although the group had committed 1.
    consumer = _FakeConsumer()
    delivery = _CommittedAt(consumer, at=1)
    late = _Message("t.metrics", 6, 17)
    assert asyncio.run(delivery.admit([late])) == [False]
    assert consumer.seeks == [(("t.metrics", 6), 1)]
    assert consumer.ack(late) is False  # Faust's ack of it does not count
    assert consumer.acked == []


def test_the_bus_lets_faust_acknowledge_what_was_handled_and_leaves_other_topics_alone() -> None:
    consumer = _FakeConsumer()
    delivery = _CommittedAt(consumer, at=3)
    first, other = _Message("t.metrics", 0, 3), _Message("t.models", 0, 50)
    generation = delivery.generation
    assert asyncio.run(delivery.admit([first, other])) == [True, True]
    assert consumer.ack(first) is False  # handed over, not finished
    delivery.done([first, other], generation)
    assert consumer.ack(first) is True
    assert consumer.ack(other) is True  # a compacted topic: offsets have holes by design
    assert consumer.acked == [3, 50]


def test_a_seek_that_brought_nothing_is_repeated_even_when_no_message_follows() -> None:
    guard: OffsetGuard[str] = OffsetGuard(reseek_after_s=5)
    guard.start("p10", 1)
    guard.start("p11", 1)
    assert guard.admit([("p10", 21), ("p11", 21)]) == [G, G]
    assert guard.seek_to("p10", now=0.0) == 1
    assert guard.seek_to("p11", now=0.0) == 1
    _handle_in_turn(guard, "p11", [1])  # p11's seek worked
    assert guard.overdue(now=4.0) == []
    assert guard.overdue(now=5.0) == [("p10", 1)]
    assert guard.overdue(now=6.0) == []  # the next one is due a period later
