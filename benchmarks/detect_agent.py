"""End-to-end throughput of the detect service's Faust agent on a real Kafka broker.

Produces N metric points (S series) into a private topic namespace with the raw kafka-python
producer, then starts the production detect worker (KafkaBus + Faust agent + production
detector + checkpoint table) and measures how fast it consumes them, from its first point to
its last. Results are printed, not asserted.

    python benchmarks/detect_agent.py --points 100000 --series 1000 --kafka 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe  # noqa: E402
from services.core.bus.base import encode, encode_key  # noqa: E402
from services.core.bus.kafka import KafkaBus, ensure_topics  # noqa: E402
from services.core.events import Event, MetricPoint  # noqa: E402
from services.core.topics import TELEMETRY_METRICS  # noqa: E402
from services.detect.service import build_detect  # noqa: E402
from services.detect.settings import DetectSettings  # noqa: E402


def produce(bootstrap: str, prefix: str, points: int, series: int) -> float:
    """Write the points with a plain kafka-python producer; returns messages/s."""
    from kafka import KafkaProducer

    ensure_topics([bootstrap], prefix=prefix)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        compression_type="gzip",
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    topic = prefix + TELEMETRY_METRICS.name
    began = time.perf_counter()
    for i in range(points):
        s = i % series
        point = MetricPoint(
            name="bench_metric",
            labels={"service": f"svc{s % 50}", "n": str(s)},
            value=100.0 + (i % 17),
            timestamp=start + timedelta(seconds=i // series),
        )
        producer.send(topic, key=encode_key(point), value=encode(point))
    producer.flush()
    elapsed = time.perf_counter() - began
    producer.close()
    return points / elapsed


async def consume(bootstrap: str, prefix: str, points: int) -> tuple[float, int]:
    """Run the detect worker until it has seen every point; returns (points/s, anomalies)."""
    settings = DetectSettings(kafka_bootstrap=bootstrap, topic_prefix=prefix)
    bus = KafkaBus(
        settings.kafka_servers, client_id="bench-detect", topic_prefix=prefix, create_topics=False
    )
    worker = build_detect(settings, bus)
    first: float | None = None
    original = worker.handle

    async def timed(event: Event) -> None:
        nonlocal first
        if first is None:
            first = time.perf_counter()
        await original(event)

    bus.dispatchers[0].handler = timed
    await bus.start()
    try:
        last_report = time.perf_counter()
        while worker.points < points:
            await asyncio.sleep(0.5)
            if time.perf_counter() - last_report > 5:
                print(f"  ... {worker.points:,} / {points:,} points", flush=True)
                last_report = time.perf_counter()
        elapsed = time.perf_counter() - (first or time.perf_counter())
    finally:
        await bus.stop()
    anomalies = sum(1 for s in worker.monitor.series.values() if s.firing)
    return points / elapsed, anomalies


def produce_batched(bootstrap: str, prefix: str, points: int, series: int, batch: int) -> float:
    """Write the points as ingest does: KafkaBus, several points per message; points/s."""

    async def go() -> float:
        bus = KafkaBus(
            [bootstrap], client_id="bench-ingest", topic_prefix=prefix, batch_max_events=batch
        )
        await bus.start()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        began = time.perf_counter()
        try:
            for first in range(0, points, 1000):
                chunk = [
                    MetricPoint(
                        name="bench_metric",
                        labels={"service": f"svc{(i % series) % 50}", "n": str(i % series)},
                        value=100.0 + (i % 17),
                        timestamp=start + timedelta(seconds=i // series),
                    )
                    for i in range(first, min(points, first + 1000))
                ]
                await bus.publish(TELEMETRY_METRICS, chunk)
        finally:
            await bus.stop()
        return points / (time.perf_counter() - began)

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="points per Kafka message as ingest sends them (0: one raw message per point)",
    )
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    print(f"machine: {describe()}")
    print(f"producing {args.points:,} points over {args.series:,} series into {prefix}*")
    if args.batch > 0:
        ensure_topics([args.kafka], prefix=prefix)
        rate = produce_batched(args.kafka, prefix, args.points, args.series, args.batch)
        print(f"KafkaBus producer, up to {args.batch} points per message: {rate:,.0f} points/s")
    else:
        rate = produce(args.kafka, prefix, args.points, args.series)
        print(f"raw kafka-python producer, one message per point: {rate:,.0f} msg/s")
    agent_rate, firing = asyncio.run(consume(args.kafka, prefix, args.points))
    print(
        f"detect agent end to end (Faust consumer + detector + checkpoints): "
        f"{agent_rate:,.0f} points/s ({firing} series firing at the end)"
    )


if __name__ == "__main__":
    main()
