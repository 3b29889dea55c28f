"""The ingest HTTP app: receive, validate, normalise, publish; answer only after the bus acked."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.core.bus import Bus
from services.core.errors import RetryableError
from services.core.topics import TELEMETRY_METRICS
from services.ingest.formats.native_json import MetricsBatch, to_points
from services.ingest.settings import IngestSettings


class BadRequest(Exception):
    """The request cannot be accepted as sent; `status` is the 4xx to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def create_app(settings: IngestSettings, bus: Bus) -> FastAPI:
    """Build the ingest app publishing to `bus`."""
    app = FastAPI(title="Vigil ingest", version="0.1.0")

    @app.exception_handler(BadRequest)
    async def bad_request(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": exc.detail})

    @app.exception_handler(RetryableError)
    async def unavailable(_: Request, exc: RetryableError) -> JSONResponse:
        # The bus did not acknowledge: nothing was accepted, the client should retry.
        return JSONResponse(
            status_code=503,
            content={"detail": "bus unavailable, retry later"},
            headers={"Retry-After": "5"},
        )

    @app.post("/v1/json/metrics", status_code=200, summary="Metrics in Vigil's JSON format")
    async def json_metrics(request: Request) -> dict[str, int]:
        body = await _read_json(request, settings)
        try:
            batch = MetricsBatch.model_validate(body)
        except ValidationError as exc:
            raise BadRequest(400, _first_error(exc)) from exc
        if len(batch.points) > settings.ingest_max_batch:
            raise BadRequest(413, f"at most {settings.ingest_max_batch} points per request")
        points = to_points(batch)
        await bus.publish(TELEMETRY_METRICS, points)
        return {"accepted": len(points)}

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        ready = bus.ready()
        return JSONResponse(
            status_code=200 if ready else 503, content={"ready": ready, "bus": ready}
        )

    return app


async def _read_json(request: Request, settings: IngestSettings) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest(415, "expected Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.ingest_max_body_bytes:
        raise BadRequest(413, f"body larger than {settings.ingest_max_body_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.ingest_max_body_bytes:
            raise BadRequest(413, f"body larger than {settings.ingest_max_body_bytes} bytes")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"body is not valid JSON: {exc}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"
