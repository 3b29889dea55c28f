"""CPU cost of ingest's pipeline without HTTP or a broker: points per CPU-second.

Decodes the same bodies `benchmarks/ingest.py` sends and submits them through `IngestService`
and `KafkaBus` (guard, grouping by partition, batch encoding, `producer.send`), with a producer
that acknowledges at once. On a shared machine this is the steadiest figure to compare two
versions of the code by: run it for both in one sitting and compare the ratio.

    python benchmarks/ingest_pipeline.py --formats otlp remote_write
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ingest import Bodies  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from services.core.bus.kafka import KafkaBus  # noqa: E402
from services.core.topics import TELEMETRY_METRICS  # noqa: E402
from services.ingest.body import snappy_block  # noqa: E402
from services.ingest.formats import otlp_metrics, remote_write  # noqa: E402
from services.ingest.service import IngestService  # noqa: E402
from services.ingest.settings import IngestSettings  # noqa: E402


class _Acked:
    """A kafka-python future that is already acknowledged."""

    def add_callback(self, fn: Any) -> _Acked:
        fn(None)
        return self

    def add_errback(self, fn: Any) -> _Acked:
        return self


class _Metadata:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(TELEMETRY_METRICS.partitions))


class _InstantProducer:
    _metadata = _Metadata()

    def send(self, topic: str, key: Any = None, value: Any = None, partition: Any = None) -> Any:
        return _Acked()


async def points_per_cpu_second(fmt: str, requests: int, rounds: int) -> float:
    """Best of `rounds` (after a warm-up that seeds counter state)."""
    bus = KafkaBus(["unused:9092"], client_id="bench", batch_max_events=500)
    bus._producer = _InstantProducer()  # noqa: SLF001 - the broker is what this leaves out
    bus._partition_counts[TELEMETRY_METRICS.name] = TELEMETRY_METRICS.partitions  # noqa: SLF001
    service = IngestService(IngestSettings(), bus)
    decode = otlp_metrics.decode_protobuf if fmt == "otlp" else remote_write.decode
    bodies = Bodies(fmt)
    best = 0.0
    for round_ in range(rounds + 1):
        batch = [bodies.next() for _ in range(requests)]
        began, points = time.process_time(), 0
        for body in batch:
            raw = body if fmt == "otlp" else snappy_block(body, 1 << 26)
            decoded = decode(raw, service.context("default"))
            outcome = await service.submit(decoded, tenant="default", signal="metrics", source=fmt)
            points += outcome.accepted
        if round_:  # the first round seeds counter state: half its counters yield no rate
            best = max(best, points / (time.process_time() - began))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--formats", nargs="+", default=["otlp", "remote_write"])
    parser.add_argument("--requests", type=int, default=150, help="1,000-point bodies a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    for fmt in args.formats:
        rate = asyncio.run(points_per_cpu_second(fmt, args.requests, args.rounds))
        print(f"{fmt:<12} pipeline without HTTP and broker: {rate:>9,.0f} points per CPU-second")


if __name__ == "__main__":
    main()
