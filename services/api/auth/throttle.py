"""Brute-force guard for API keys: too many failed attempts -> refused for a while. Pure.

Failures are counted per client address and per presented key id (the public `vgl_<id>_`
part), each in a sliding window: after `limit` failures within `window_s`, that address (or
key id) is refused until the oldest of those failures leaves the window, without the key even
being checked, so a blocked guesser learns nothing. A 256-bit key cannot be guessed anyway;
the guard keeps scanners from hammering the database and makes them visible in the logs.

Memory is bounded: each tracked address or key id keeps at most `limit` timestamps, and at
most `max_tracked` of them are kept (the least recently failing ones are forgotten first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from services.core.errors import VigilError


class Throttled(VigilError):
    """Too many failed authentication attempts; retry after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float, what: str) -> None:
        super().__init__(f"too many failed API key attempts from this {what}; retry later")
        self.retry_after_s = retry_after_s

    @property
    def retry_after(self) -> str:
        """The Retry-After header value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures (per address, per key id) within how many seconds are tolerated."""

    client_limit: int = 10
    key_limit: int = 20
    window_s: float = 60.0
    max_tracked: int = 10_000


class _Window:
    """Sliding-window failure counts for one kind of subject (addresses or key ids)."""

    def __init__(self, limit: int, window_s: float, max_tracked: int) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_tracked = max_tracked
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, subject: str, now: float) -> float | None:
        """Seconds until `subject` may try again, or None if it may try now."""
        failures = self._failures.get(subject)
        if failures is None or len(failures) < self.limit:
            return None
        wait = failures[0] + self.window_s - now
        return wait if wait > 0 else None

    def fail(self, subject: str, now: float) -> None:
        failures = self._failures.pop(subject, None)
        if failures is None:
            failures = deque(maxlen=self.limit)
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        failures.append(now)
        self._failures[subject] = failures  # most recently failing last
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


class AuthThrottle:
    """Counts failed key checks and says when a client or key id must wait."""

    def __init__(
        self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        p = self.policy
        self._clients = _Window(p.client_limit, p.window_s, p.max_tracked)
        self._keys = _Window(p.key_limit, p.window_s, p.max_tracked)

    def check(self, *, client: str, key_id: str | None) -> None:
        """Raise Throttled if this client, or this key id, failed too often lately."""
        now = self.clock()
        wait = self._clients.retry_after(client, now)
        if wait is not None:
            raise Throttled(wait, "address")
        if key_id is not None:
            wait = self._keys.retry_after(key_id, now)
            if wait is not None:
                raise Throttled(wait, "key id")

    def failed(self, *, client: str, key_id: str | None) -> None:
        """Record one failed attempt by `client` (presenting `key_id`, if it had one)."""
        now = self.clock()
        self._clients.fail(client, now)
        if key_id is not None:
            self._keys.fail(key_id, now)

    @property
    def tracked(self) -> int:
        """Addresses and key ids currently remembered (bounded by 2 * max_tracked)."""
        return len(self._clients) + len(self._keys)
