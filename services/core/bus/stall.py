"""Notice a partition whose committed offset stopped moving although messages wait on it.

Faust occasionally loses track of a message around a rebalance or a restart: the message is
fetched, but never handed to the agent (or handed over and dropped), so it is never
acknowledged. Faust commits only up to the first unacknowledged offset, so that partition's
committed offset then stays put for good, its lag never drains, and a restart of the worker
replays everything after it. Seen in the fault suite after SIGKILL restarts and in the
takeover test on a loaded machine.

The cure is to read the partition again from its committed offset: the lost message is
delivered, the ones after it are delivered a second time, which the handlers tolerate
(at-least-once delivery, idempotent handling). This module only decides *when*: pure logic,
no Kafka, a clock passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

Partition = TypeVar("Partition")


@dataclass
class _Progress:
    committed: int | None
    since: float


@dataclass
class StallWatch(Generic[Partition]):
    """Which partitions to read again, from one observation of the consumer to the next.

    A partition is stalled when, for `stall_after_s`, its committed offset has not moved while
    the partition's end offset is beyond it, and no handler call is blocked when we look: a
    handler that keeps retrying one message (its database is down, say) holds the commit on
    purpose, and reading again would only queue the same messages twice. Short handler calls
    in flight do not count: messages after a lost one keep being handled while the commit
    stays stuck behind it.
    """

    stall_after_s: float = 30.0
    _progress: dict[Partition, _Progress] = field(default_factory=dict)

    def observe(
        self,
        now: float,
        offsets: dict[Partition, tuple[int | None, int | None]],
        *,
        handler_blocked: bool,
    ) -> list[tuple[Partition, int]]:
        """Feed `{partition: (committed, end)}`; returns `(partition, offset)` to re-read.

        Partitions no longer in `offsets` (revoked) are forgotten.
        """
        for gone in set(self._progress) - set(offsets):
            del self._progress[gone]
        stalled: list[tuple[Partition, int]] = []
        for partition, (committed, end) in offsets.items():
            seen = self._progress.get(partition)
            if seen is None or seen.committed != committed:
                self._progress[partition] = _Progress(committed, now)
                continue
            waiting = end is not None and end > (committed or 0)
            if not waiting:
                seen.since = now  # nothing to read: the clock starts when something arrives
                continue
            if not handler_blocked and now - seen.since >= self.stall_after_s:
                stalled.append((partition, committed or 0))
                seen.since = now  # give the re-read a full period before judging again
        return stalled


@dataclass
class RecoveryWatch:
    """Whether a worker's table recovery has stopped making progress.

    Faust restores a worker's tables from their changelogs before it hands it any message.
    Now and then (seen once in ~30 runs of the takeover test) that recovery waits for changelog
    messages that never arrive ("No event received for active tp ... since recovery start"),
    and the worker handles nothing until it is restarted. A recovery whose remaining count has
    not moved for `stuck_after_s` is stuck; a large changelog that is still being read is not.
    """

    stuck_after_s: float = 60.0
    _since: float | None = None
    _remaining: int | None = None

    def observe(self, now: float, *, in_recovery: bool, remaining: int) -> bool:
        """Feed the recovery's state; True when it is stuck (then judged afresh)."""
        if not in_recovery:
            self._since = self._remaining = None
            return False
        if self._since is None or remaining != self._remaining:
            self._since, self._remaining = now, remaining
            return False
        if now - self._since >= self.stuck_after_s:
            self._since = now
            return True
        return False
