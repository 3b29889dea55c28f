"""API benchmarks on PostgreSQL: list-incidents latency at 100,000 incidents, and how many
anomalies per second become incidents (service layer, and through the Kafka consumer).

1. Creates a fresh database, migrates it, bulk-inserts N incidents (default 100,000) spread
   over 200 services, 90 days, every status and severity, and an API key.
2. Serves the API with uvicorn in a subprocess and times GET /api/v1/incidents over HTTP with
   typical filters and cursor pagination (sequential requests, after a warm-up): p50/p99.
3. Records M anomalies (bursts on many services: firing, recovery, reopening) through the
   service layer in batches of one transaction each, then M more through the real consumer:
   produced to Kafka, consumed in batches by the api's KafkaBus, committed to PostgreSQL.

Results are printed, not asserted. Bounded by default (two shared cores are enough):

    python benchmarks/api.py --database-url postgresql+psycopg://vigil:vigil@127.0.0.1:5432/vigil

`--no-kafka` skips the consumer part; `--keep` keeps the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text, update  # noqa: E402

import migrations  # noqa: E402
from benchmarks.machine import describe  # noqa: E402
from services.api.incidents.models import Incident, Signal  # noqa: E402
from services.api.incidents.signals import IncidentPolicy, from_anomaly, record_signals  # noqa: E402
from services.api.outbox import OutboxMessage  # noqa: E402
from services.core.db import make_engine, make_session_factory, transaction  # noqa: E402
from services.core.events import Anomaly, Explanation, Severity, stable_id  # noqa: E402

STATUSES = ["resolved"] * 90 + ["open"] * 5 + ["acknowledged"] * 3 + ["mitigating"] * 2
SEVERITIES = ["info", "warning", "warning", "error", "critical"]
T_END = datetime(2026, 11, 1, tzinfo=UTC)


# -- database ---------------------------------------------------------------------------------


def fresh_database(admin_url: str) -> str:
    """Create an empty database next to `admin_url`'s; returns its URL."""
    name = f"vigil_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def seed_incidents(url: str, count: int, services: int) -> float:
    """Bulk-insert `count` incidents; returns seconds taken."""
    rng = random.Random(1)
    engine = make_engine(url)
    began = time.perf_counter()

    def rows() -> Iterator[dict[str, Any]]:
        for i in range(count):
            service = f"svc-{rng.randrange(services):03d}"
            opened = T_END - timedelta(seconds=rng.uniform(0, 90 * 86400))
            status = rng.choice(STATUSES)
            updated = opened + timedelta(seconds=rng.uniform(0, 7200))
            yield {
                "id": f"{i:08x}{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
                "tenant": "default",
                "service": service,
                "title": f"latency anomalous on {service}",
                "severity": rng.choice(SEVERITIES),
                "status": status,
                "opened_at": opened,
                "updated_at": updated,
                "resolved_at": updated if status == "resolved" else None,
                "last_signal_at": updated,
                "signal_count": rng.randint(1, 20),
                "firing": [] if status == "resolved" else [f'latency{{service="{service}"}}'],
                "services": [service],
                "assignee": rng.choice([None, None, "alice", "bob"]),
                "flapping": False,
                "flips": [],
                "silenced": False,
            }

    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows():
            batch.append(row)
            if len(batch) == 5000:
                conn.execute(insert(Incident), batch)
                batch = []
        if batch:
            conn.execute(insert(Incident), batch)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - began


def make_admin_key(url: str) -> str:
    from services.api.auth import service as keys
    from services.api.auth.principal import CLI
    from services.api.auth.roles import Role

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        _, token = keys.create_key(session=session, name="bench", role=Role.ADMIN, actor=CLI)
    engine.dispose()
    return token


# -- list latency -----------------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    """Serve the API app (the subprocess side of the latency benchmark)."""
    import uvicorn

    from services.api.app import create_app

    engine = make_engine(url)
    app = create_app(make_session_factory(engine))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def list_latency(url: str, key: str, requests: int, services: int) -> dict[str, list[float]]:
    """Time list requests against a uvicorn subprocess; returns latencies (ms) per query."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--database-url", url, "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(2)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        queries: dict[str, Any] = {
            "newest 50": lambda: {},
            "status=open": lambda: {"status": "open"},
            "status=open|acknowledged|mitigating": lambda: {
                "status": ["open", "acknowledged", "mitigating"]
            },
            "service=X": lambda: {"service": f"svc-{rng.randrange(services):03d}"},
            "severity=critical": lambda: {"severity": "critical"},
            "sort=-updated_at limit=100": lambda: {"sort": "-updated_at", "limit": 100},
        }
        timings: dict[str, list[float]] = {name: [] for name in [*queries, "page 2..20 (cursor)"]}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(50):  # warm-up: connections, caches, plans
                client.get("/api/v1/incidents").raise_for_status()
            names = list(queries)
            for i in range(requests):
                name = names[i % len(names)]
                began = time.perf_counter()
                client.get("/api/v1/incidents", params=queries[name]()).raise_for_status()
                timings[name].append((time.perf_counter() - began) * 1000)
            cursor = None
            pages = max(1, requests // 20)
            for _ in range(pages):  # walk 20 pages deep, timing pages 2..20
                cursor = client.get("/api/v1/incidents").json()["next_cursor"]
                for _ in range(19):
                    began = time.perf_counter()
                    page = client.get("/api/v1/incidents", params={"cursor": cursor}).json()
                    timings["page 2..20 (cursor)"].append((time.perf_counter() - began) * 1000)
                    cursor = page["next_cursor"]
        return timings
    finally:
        server.terminate()
        server.wait(timeout=30)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- correlation throughput -------------------------------------------------------------------


def anomaly_stream(count: int, services: int, series: int, seed: int) -> list[Anomaly]:
    """Bursts: each series of each service fires and recovers, again and again, interleaved."""
    out: list[Anomaly] = []
    t0 = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(days=seed)
    cycle = 0
    while len(out) < count:
        for status in ("firing", "resolved"):
            for s in range(services):
                service = f"bench-{seed}-{s:04d}"
                for k in range(series):
                    at = t0 + timedelta(minutes=cycle * 10 + (5 if status == "resolved" else 0))
                    name = f"m{k}"
                    key = f'{name}{{service="{service}"}}'
                    out.append(
                        Anomaly(
                            id=stable_id(status, key, at.isoformat()),
                            status=status,
                            series=key,
                            metric=name,
                            service=service,
                            labels={"service": service},
                            timestamp=at + timedelta(milliseconds=k),
                            score=0.9,
                            severity=Severity.WARNING,
                            detector="bench",
                            explanation=Explanation(
                                observed=9, expected=1, lower=0, upper=2, component="bench"
                            ),
                        )
                    )
        cycle += 1
    return out[:count]


def service_layer_rate(url: str, anomalies: list[Anomaly], batch: int) -> float:
    """Anomalies/s through record_signals, one transaction per batch."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    policy = IncidentPolicy()
    began = time.perf_counter()
    for i in range(0, len(anomalies), batch):
        with transaction(factory) as session:
            signals = [from_anomaly(a) for a in anomalies[i : i + batch]]
            record_signals(session=session, signals=signals, policy=policy)
    elapsed = time.perf_counter() - began
    engine.dispose()
    return len(anomalies) / elapsed


def consumer_rate(url: str, kafka: str, anomalies: list[Anomaly], batch: int) -> float:
    """Anomalies/s through Kafka and the api's batch consumer, until all are stored."""
    from kafka import KafkaProducer

    from services.api.service import build_api
    from services.api.settings import ApiSettings
    from services.core.bus.base import encode, encode_key
    from services.core.bus.kafka import KafkaBus, ensure_topics

    prefix = f"bench{uuid.uuid4().hex[:8]}."
    ensure_topics([kafka], prefix=prefix)
    producer = KafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=20)
    for a in anomalies:
        producer.send(f"{prefix}anomalies", key=encode_key(a), value=encode(a))
    producer.flush()
    producer.close()
    engine = make_engine(url)
    with engine.begin() as conn:
        before = conn.scalar(select(func.count()).select_from(Signal)) or 0
        # The service-layer run had no relay: its incident changes are not this run's work.
        conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.published_at.is_(None))
            .values(published_at=func.now())
        )
    settings = ApiSettings(
        database_url=url, kafka_bootstrap=kafka, topic_prefix=prefix, consumer_batch=batch
    )

    async def run() -> tuple[int, float, int]:
        bus = KafkaBus([kafka], client_id="bench-api", topic_prefix=prefix, create_topics=False)
        api = build_api(settings, bus)
        await bus.start()
        await api.start()
        await bus.wait_assigned()
        first: tuple[int, float] | None = None
        try:
            while True:
                await asyncio.sleep(0.1)
                with engine.connect() as conn:
                    stored = (conn.scalar(select(func.count()).select_from(Signal)) or 0) - before
                now = time.perf_counter()
                if first is None and stored > 0:
                    first = (stored, now)
                if stored >= len(anomalies) and first is not None:
                    batches = sum(d.handled for d in bus.dispatchers)
                    return stored - first[0], now - first[1], batches
        finally:
            await api.stop()
            await bus.stop()

    done, elapsed, _ = asyncio.run(run())
    engine.dispose()
    # From the first stored anomaly to the last: the sustained rate, without group join time.
    return done / elapsed


# -- main -------------------------------------------------------------------------------------


def _line(name: str, values: list[float], note: str = "") -> str:
    p50, p99 = pct(values, 50), pct(values, 99)
    return f"  {name:<38} n={len(values):<5} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms{note}"


def report(url: str, args: argparse.Namespace) -> None:
    """Run every part on the fresh database at `url` and print the figures."""
    with create_engine(url).connect() as conn:
        pg = {
            s: conn.execute(text(f"SHOW {s}")).scalar()
            for s in ("fsync", "synchronous_commit", "server_version")
        }
    print(f"machine: {describe()}")
    print(
        f"postgresql {pg['server_version']} "
        f"(fsync={pg['fsync']}, synchronous_commit={pg['synchronous_commit']})"
    )
    seconds = seed_incidents(url, args.incidents, args.services)
    print(f"seeded {args.incidents:,} incidents in {seconds:.1f} s")
    timings = list_latency(url, make_admin_key(url), args.requests, args.services)
    every = [t for ts in timings.values() for t in ts]
    print(f"GET /api/v1/incidents over HTTP, {len(every)} sequential requests, 1 uvicorn process:")
    for name, values in timings.items():
        print(_line(name, values))
    print(_line("all", every, "   (target p99 < 50 ms)"))

    stream = anomaly_stream(args.anomalies, services=400, series=5, seed=0)
    rate = service_layer_rate(url, stream, args.batch)
    print(
        f"service layer: {len(stream):,} anomalies -> incidents at {rate:,.0f}/s "
        f"(batches of {args.batch}, one transaction each)"
    )
    if not args.no_kafka:
        stream = anomaly_stream(args.anomalies, services=400, series=5, seed=1)
        rate = consumer_rate(url, args.kafka, stream, args.batch)
        print(
            f"Kafka consumer: {len(stream):,} anomalies -> incidents at {rate:,.0f}/s sustained "
            f"(api KafkaBus, batches <= {args.batch}; target >= 2,000/s)"
        )
    with create_engine(url).connect() as conn:
        total = conn.scalar(select(func.count()).select_from(Incident))
    print(f"incidents in the database at the end: {total:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://vigil:vigil@127.0.0.1:5432/vigil",
        help="a PostgreSQL database whose user may CREATE DATABASE",
    )
    parser.add_argument("--port", type=int, default=0, help="(serve mode)")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--requests", type=int, default=1200, help="timed list requests")
    parser.add_argument("--anomalies", type=int, default=20_000, help="per throughput run")
    parser.add_argument(
        "--batch", type=int, default=1000, help="anomalies per transaction (the api default)"
    )
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--no-kafka", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.database_url, args.port)
        return 0

    url = fresh_database(args.database_url)
    try:
        migrations.upgrade(url)
        report(url, args)
    finally:
        if not args.keep:
            drop_database(args.database_url, url)
        else:
            print(f"kept {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
