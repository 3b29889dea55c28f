"""Which partition a key lands on, exactly as kafka-python's default partitioner decides.

Batched topics carry several events per message, grouped by partition, so that every event of
a series still lands on the series' partition. The hash is Kafka's murmur2 (the Java client's
and kafka-python's default); it is slow in pure Python, so results are cached (bounded).
"""

from __future__ import annotations

from collections import OrderedDict

from kafka.partitioner.default import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    """The partition the default partitioner picks for `key` among `partitions`."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


class KeyPartitioner:
    """`partition_for` with a bounded LRU cache (series keys repeat at every scrape)."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self.max_keys = max_keys
        self._hashes: OrderedDict[bytes, int] = OrderedDict()

    def partition(self, key: bytes, partitions: int) -> int:
        """The partition of `key` among `partitions`."""
        cached = self._hashes.get(key)
        if cached is None:
            cached = int(murmur2(key) & 0x7FFFFFFF)
            self._hashes[key] = cached
            if len(self._hashes) > self.max_keys:
                self._hashes.popitem(last=False)
        return cached % partitions
