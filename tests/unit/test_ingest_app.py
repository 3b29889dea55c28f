from __future__ import annotations

import asyncio
import gzip
from collections.abc import Sequence
from typing import Any

import httpx

from services.core.bus import InMemoryBus
from services.core.errors import RetryableError
from services.core.events import Event, MetricPoint
from services.core.topics import TELEMETRY_METRICS, Topic
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings

POINT = {
    "name": "cpu",
    "labels": {"service": "api"},
    "value": 0.5,
    "timestamp": "2026-01-01T00:00:00Z",
}


class DownBus(InMemoryBus):
    """A bus whose broker does not acknowledge anything."""

    async def publish(self, topic: Topic, events: Sequence[Event]) -> None:
        raise RetryableError("broker unreachable")


def _post(
    bus: InMemoryBus, *, settings: IngestSettings | None = None, **kwargs: Any
) -> httpx.Response:
    app = create_app(settings or IngestSettings(), bus)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            return await client.post("/v1/json/metrics", **kwargs)

    return asyncio.run(go())


def test_valid_batch_is_published_and_counted() -> None:
    bus = InMemoryBus()
    response = _post(bus, json={"points": [POINT, {**POINT, "value": 0.7}]})
    assert response.status_code == 200
    assert response.json() == {"accepted": 2}
    published = [
        MetricPoint.model_validate_json(m.value) for m in bus.recent(TELEMETRY_METRICS.name)
    ]
    assert [p.value for p in published] == [0.5, 0.7]
    assert published[0].labels == {"service": "api"}


def test_bad_field_is_a_400_that_names_the_field() -> None:
    response = _post(InMemoryBus(), json={"points": [{**POINT, "value": "high"}]})
    assert response.status_code == 400
    assert "points.0.value" in response.json()["detail"]


def test_unknown_field_is_rejected() -> None:
    response = _post(InMemoryBus(), json={"points": [{**POINT, "colour": "red"}]})
    assert response.status_code == 400
    assert "colour" in response.json()["detail"]


def test_wrong_content_type_is_415() -> None:
    response = _post(InMemoryBus(), content=b"cpu 1", headers={"content-type": "text/plain"})
    assert response.status_code == 415


def test_body_over_the_limit_is_413() -> None:
    settings = IngestSettings(ingest_max_body_bytes=1024)
    big = {"points": [POINT] * 50}
    response = _post(InMemoryBus(), settings=settings, json=big)
    assert response.status_code == 413


def test_malformed_json_is_400_never_500() -> None:
    bodies = [b"{", b"\xff\xfe", gzip.compress(b"{}"), b"[]", b"null", b'{"points": []}']
    for body in bodies:
        response = _post(InMemoryBus(), content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, body


def test_nothing_is_acknowledged_when_the_bus_does_not_acknowledge() -> None:
    response = _post(DownBus(), json={"points": [POINT]})
    assert response.status_code == 503
    assert response.headers["retry-after"]
