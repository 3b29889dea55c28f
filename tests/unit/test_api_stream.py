"""The live stream of incident changes (SSE) and the outbox change feed behind it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.feed import Broadcaster, Change, ChangeFeed, GapTracker
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.core.db import make_engine, make_session_factory, transaction
from services.core.runtime import http_server
from tests.factories import anomaly, make_key
from tests.integration.procs import free_port

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_gap_tracker_delivers_late_commits_and_gives_up_on_rolled_back_ids() -> None:
    tracker = GapTracker(cursor=10, grace=timedelta(seconds=5))
    assert tracker.accept([11, 13], T0) == [11, 13]  # 12 is still in flight
    assert tracker.cursor == 11
    assert tracker.accept([13], T0 + timedelta(seconds=1)) == []  # no duplicates
    assert tracker.accept([12, 13, 14], T0 + timedelta(seconds=2)) == [12, 14]
    assert tracker.cursor == 14
    assert tracker.accept([16], T0 + timedelta(seconds=3)) == [16]  # 15 never commits
    assert tracker.cursor == 14
    assert tracker.accept([16], T0 + timedelta(seconds=9)) == []
    assert tracker.cursor == 16 and not tracker.gaps and not tracker.seen_above


def test_a_slow_subscriber_is_dropped_not_buffered_forever() -> None:
    broadcaster = Broadcaster(queue_size=2)
    slow = broadcaster.subscribe()
    for i in range(3):
        broadcaster.publish(Change(i, "opened", "{}"))
    assert slow.get_nowait() is None and broadcaster.subscribers == 0


def _record(factory: sessionmaker[Session], **kwargs: Any) -> None:
    with transaction(factory) as session:
        record_anomaly(session=session, anomaly=anomaly(**kwargs), policy=IncidentPolicy())


async def _read_events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with asyncio.timeout(15):
        async for line in response.aiter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                    if len(events) == count:
                        return events
                current = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            current[name] = value
    return events


def test_stream_sends_changes_from_every_replica_and_resumes_after_last_event_id(
    sqlite_url: str,
) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    key = make_key(factory, "viewer")
    headers = {"Authorization": f"Bearer {key}"}

    async def main() -> None:
        # Two api replicas over one database, each with its own change feed.
        replicas = []
        for _ in range(2):
            feed = ChangeFeed(factory, Broadcaster(), poll_s=0.05)
            port = free_port()
            server = http_server(create_app(factory, feed=feed), "127.0.0.1", port)
            tasks = [asyncio.create_task(server.serve()), asyncio.create_task(feed.run())]
            replicas.append((server, port, tasks))
        while not all(server.started for server, _, _ in replicas):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # let both feeds take their starting position
        url = f"http://127.0.0.1:{replicas[1][1]}/api/v1/incidents/stream"
        try:
            async with (
                httpx.AsyncClient(timeout=20) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                assert response.status_code == 200
                # Written "elsewhere" (no replica's commit hook is told): found by polling.
                await asyncio.to_thread(_record, factory, series="a", minute=0)
                await asyncio.to_thread(_record, factory, status="resolved", series="a", minute=1)
                events = await _read_events(response, 2)
            assert [e["event"] for e in events] == ["opened", "resolved"]
            payload = json.loads(events[0]["data"])
            assert payload["service"] == "checkout" and payload["type"] == "opened"
            first_id = events[0]["id"]
            # A client resuming after the first event gets the second one again, replayed.
            resume = {**headers, "Last-Event-ID": first_id}
            params = {"service": "checkout"}
            async with (
                httpx.AsyncClient(timeout=20) as client,
                client.stream("GET", url, headers=resume, params=params) as response,
            ):
                replayed = await _read_events(response, 1)
            assert [e["event"] for e in replayed] == ["resolved"]
            # A browser EventSource sends the key in the URL instead.
            async with (
                httpx.AsyncClient(timeout=20) as client,
                client.stream("GET", url, params={"access_token": key}) as response,
            ):
                assert response.status_code == 200
        finally:
            for server, _, tasks in replicas:
                server.should_exit = True
                await tasks[0]
                tasks[1].cancel()

    asyncio.run(main())
    engine.dispose()


def test_unauthenticated_stream_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    app = create_app(make_session_factory(engine))

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            response = await client.get("/api/v1/incidents/stream")
            assert response.status_code == 401

    asyncio.run(main())
    engine.dispose()
