"""Hand each partition's messages to the handler in offset order, none skipped.

Faust can drop a fetched message on its way to an agent around a rebalance: the takeover test
(tests/integration/test_operations.py) caught a worker that, while it restored its tables
after taking over partitions, received offsets 0-4 of a partition and then 16 onwards; 5-15
never reached the agent. Faust also acknowledges messages it skips (those fetched under an
earlier group generation), so its commit could move past messages no handler ever saw, and
the next owner of the partition started after them.

The guard below keeps Vigil's own account instead of trusting that path:

- a partition's next offset to handle starts at the group's committed offset (read from the
  broker when the partition is first seen after an assignment), and moves only when a
  handler call for that offset returns;
- a message at that offset is handled; one below it was handled already (a redelivery after
  a seek) and is skipped; one above it means messages went missing: it is not handled, and
  the partition is read again from the next offset to handle;
- only offsets below the next offset to handle may be acknowledged, so Faust commits nothing
  that was not handled.

Pure logic, no Kafka: the bus (kafka.py) feeds it offsets and a clock, and does the seeking.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Partition = TypeVar("Partition")


@dataclass
class _Gap:
    """A partition waiting for a missing offset: since when, and when it was last sought."""

    offset: int
    since: float
    sought_at: float


class Verdict(enum.Enum):
    HANDLE = "handle"  # the next offset: hand it to the handler
    SEEN = "seen"  # below the next offset: handled before, skip it
    GAP = "gap"  # beyond the next offset: earlier messages went missing; do not handle


@dataclass
class OffsetGuard(Generic[Partition]):
    """Per-partition next offset to handle, for one consumer's current assignment.

    `generation` changes at every revocation; a handler call that began before it reports
    `done` for nothing (the partition may belong to another worker now). Partitions are any
    hashable value (the bus uses `(topic, partition)`).
    """

    reseek_after_s: float = 5.0
    wedged_after_s: float = 30.0
    generation: int = 0
    _next: dict[Partition, int] = field(default_factory=dict)
    _gaps: dict[Partition, _Gap] = field(default_factory=dict)

    def revoke(self) -> None:
        """Partitions moved: forget every position; each is read from the broker again."""
        self.generation += 1
        self._next.clear()
        self._gaps.clear()

    def knows(self, partition: Partition) -> bool:
        return partition in self._next

    def start(self, partition: Partition, offset: int) -> None:
        """Set where `partition` resumes (its committed offset, or the log start)."""
        self._next[partition] = offset

    def next_offset(self, partition: Partition) -> int | None:
        return self._next.get(partition)

    def admit(self, messages: Sequence[tuple[Partition, int]]) -> list[Verdict]:
        """A verdict for each `(partition, offset)`, in the order they came (one batch).

        Within a batch a partition's offsets must follow on from each other: the second of
        two messages of a partition is the next offset only if the first is handled too.
        """
        cursor: dict[Partition, int] = {}
        verdicts = []
        for partition, offset in messages:
            expected = cursor.get(partition, self._next.get(partition))
            if expected is None:
                # Not started (the broker could not be asked): the first message sets the start.
                self._next[partition] = expected = offset
            if offset == expected:
                verdicts.append(Verdict.HANDLE)
                cursor[partition] = offset + 1
            else:
                verdicts.append(Verdict.SEEN if offset < expected else Verdict.GAP)
        return verdicts

    def done(self, messages: Sequence[tuple[Partition, int]], generation: int) -> None:
        """The handler call for `messages` (all HANDLE), begun in `generation`, returned."""
        if generation != self.generation:
            return
        for partition, offset in messages:
            if self._next.get(partition) == offset:
                self._next[partition] = offset + 1
                self._gaps.pop(partition, None)

    def may_ack(self, partition: Partition, offset: int) -> bool:
        """Whether Faust may count `offset` as done (and commit past it)."""
        expected = self._next.get(partition)
        return expected is not None and offset < expected

    def seek_to(self, partition: Partition, now: float) -> int | None:
        """After a GAP: the offset to read `partition` again from, or None if just done.

        One seek per gap: the messages already buffered behind the gap arrive next and are
        GAPs too; a seek is repeated only if the partition is still stuck `reseek_after_s`
        later.
        """
        expected = self._next.get(partition)
        if expected is None:
            return None
        gap = self._gaps.get(partition)
        if gap is None or gap.offset != expected:
            self._gaps[partition] = _Gap(expected, since=now, sought_at=now)
            return expected
        if now - gap.sought_at < self.reseek_after_s:
            return None
        gap.sought_at = now
        return expected

    def wedged(self, now: float) -> list[tuple[Partition, int]]:
        """Partitions whose missing offset has not come for `wedged_after_s`, seeks and all.

        Seen rarely after a takeover: the consumer stops delivering a partition at all, and no
        seek brings it back. The bus then replaces its consumer.
        """
        return [
            (partition, gap.offset)
            for partition, gap in self._gaps.items()
            if now - gap.since >= self.wedged_after_s
        ]

    def overdue(self, now: float) -> list[tuple[Partition, int]]:
        """Partitions sought after a gap that still wait `reseek_after_s` later: seek again.

        A seek made while the consumer is still settling after a rebalance is sometimes not
        acted on, and when nothing follows on the partition no new GAP asks for another.
        """
        due = [p for p, gap in self._gaps.items() if now - gap.sought_at >= self.reseek_after_s]
        for partition in due:
            self._gaps[partition].sought_at = now
        return [(partition, self._gaps[partition].offset) for partition in due]
