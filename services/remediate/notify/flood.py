"""Flood protection: when many incidents open at once, one digest instead of a message each.

Per channel, the first `threshold` openings within `window_s` go out as usual; further
openings in that window are held and, once the window has passed, `flush()` returns them as
one digest. Follow-ups (updates, resolutions) of a held incident are not sent on their own
while it is held; they reach the channel through the digest. Pure: the caller passes the time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.remediate.notify.base import DigestItem


@dataclass
class _ChannelWindow:
    openings: deque[datetime] = field(default_factory=deque)
    held: dict[str, DigestItem] = field(default_factory=dict)
    held_since: datetime | None = None


@dataclass(frozen=True)
class Digest:
    """Incidents held back on one channel, to be sent as one message."""

    channel: str
    items: tuple[DigestItem, ...]
    since: datetime


class FloodGuard:
    """Decides per (channel, incident opening) whether to send now or hold for a digest."""

    def __init__(self, *, threshold: int = 5, window_s: float = 60.0) -> None:
        self.threshold = threshold
        self.window = timedelta(seconds=window_s)
        self._channels: dict[str, _ChannelWindow] = {}

    def admit(self, channel: str, event_type: str, item: DigestItem, now: datetime) -> bool:
        """True to send this message now; False if it is (or joins) a digest instead."""
        state = self._channels.setdefault(channel, _ChannelWindow())
        if event_type != "opened":
            return item.incident_id not in state.held
        while state.openings and now - state.openings[0] > self.window:
            state.openings.popleft()
        state.openings.append(now)
        if len(state.openings) <= self.threshold and not state.held:
            return True
        if state.held_since is None:
            state.held_since = now
        state.held[item.incident_id] = item
        return False

    def flush(self, now: datetime) -> list[Digest]:
        """Digests whose window has passed since their first held opening; forgets them."""
        ready: list[Digest] = []
        for channel, state in self._channels.items():
            if state.held_since is not None and now - state.held_since >= self.window:
                ready.append(Digest(channel, tuple(state.held.values()), state.held_since))
                state.held.clear()
                state.held_since = None
        return ready
