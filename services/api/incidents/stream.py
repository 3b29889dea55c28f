"""Server-Sent Events: a live stream of incident changes (GET /api/v1/incidents/stream)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.api.deps import StreamViewer
from services.api.feed import Change, ChangeFeed
from services.api.openapi import errors

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

_EXAMPLE = (
    "retry: 3000\n\n"
    "id: 1042\nevent: opened\n"
    'data: {"type": "opened", "incident_id": "5f0c1d2e...", "service": "checkout", ...}\n\n'
    ": keepalive\n\n"
)


def _frame(change: Change) -> str:
    return f"id: {change.id}\nevent: {change.event_type}\ndata: {change.data}\n\n"


@router.get(
    "/stream",
    summary="Live stream of incident changes (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`text/event-stream`: one event per incident change; the `id` "
            "is a position to resume from with `Last-Event-ID`; `data` is the IncidentEvent.",
            "content": {"text/event-stream": {"example": _EXAMPLE}},
        },
        **errors(),
    },
)
async def stream_incidents(
    request: Request,
    _: StreamViewer,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", max_length=20, description="Resume after this event."),
    ] = None,
    service: Annotated[str | None, Query(max_length=256, description="Only this service.")] = None,
) -> StreamingResponse:
    """Every incident change as it is committed (viewer). Send the key as a bearer header, or
    as `?access_token=` from a browser EventSource (which cannot set headers)."""
    feed: ChangeFeed = request.app.state.feed
    resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    heartbeat_s: float = request.app.state.heartbeat_s
    return StreamingResponse(
        _events(request, feed, resume, service, heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request,
    feed: ChangeFeed,
    resume: int | None,
    service: str | None,
    heartbeat_s: float,
) -> AsyncIterator[str]:
    queue = feed.broadcaster.subscribe()  # before replaying, so nothing falls in between
    try:
        yield "retry: 3000\n\n"
        last_replayed = 0
        if resume is not None:
            for past in await asyncio.to_thread(feed.replay, resume):
                last_replayed = past.id
                if _wanted(past, service):
                    yield _frame(past)
        while True:
            try:
                async with asyncio.timeout(heartbeat_s):
                    change = await queue.get()
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keepalive\n\n"
                continue
            if change is None:
                return  # dropped as too slow, or shutting down: the client reconnects
            if change.id > last_replayed and _wanted(change, service):
                yield _frame(change)
    finally:
        feed.broadcaster.unsubscribe(queue)


def _wanted(change: Change, service: str | None) -> bool:
    if service is None:
        return True
    event = json.loads(change.data)
    return bool(event.get("service") == service or service in event.get("services", []))
