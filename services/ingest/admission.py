"""The in-flight budget: how much work one ingest process holds at once (backpressure).

Items count from decoding until Kafka acknowledged them; body bytes from reading until the
answer. Over budget, requests are refused with 429 and Retry-After instead of queueing: memory
never grows without bound, and the sender's own retry queue absorbs the burst. `load()` (0..1)
drives priority shedding before that point is reached.
"""

from __future__ import annotations


class Budget:
    """Counts of items and bytes in flight, with their caps. Used from one event loop."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.items = 0
        self.bytes = 0

    def load(self) -> float:
        """The larger of the two fill ratios."""
        return max(self.items / self.max_items, self.bytes / self.max_bytes)

    def take_bytes(self, n: int) -> bool:
        """Reserve `n` body bytes; False if that would pass the cap (an idle process says yes)."""
        if self.bytes and self.bytes + n > self.max_bytes:
            return False
        self.bytes += n
        return True

    def release_bytes(self, n: int) -> None:
        self.bytes = max(0, self.bytes - n)

    def take_items(self, n: int) -> bool:
        """Reserve `n` items; False if that would pass the cap (an idle process says yes)."""
        if self.items and self.items + n > self.max_items:
            return False
        self.items += n
        return True

    def release_items(self, n: int) -> None:
        self.items = max(0, self.items - n)
