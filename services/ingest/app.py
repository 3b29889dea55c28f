"""The ingest HTTP app: every receiving route, /metrics, health; errors mapped in one place.

Routes are thin (see `routes.py`): decoding is done by the pure modules in `formats/`, and
admission and publishing by `IngestService`. A 2xx is answered only after Kafka acknowledged
everything that was accepted.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from services.core.bus import Bus
from services.core.errors import RetryableError
from services.ingest import responses
from services.ingest.auth import TokenAuth
from services.ingest.body import PROTOBUF, media_type
from services.ingest.errors import BadRequest, IngestError, PayloadTooLarge
from services.ingest.formats import DecodeError, TooManyItems
from services.ingest.routes import BY_PATH, ENDPOINTS, Endpoint, Receiver
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings
from services.ingest.telemetry import TimingMiddleware

log = logging.getLogger(__name__)


def create_app(
    settings: IngestSettings, bus: Bus, *, service: IngestService | None = None
) -> FastAPI:
    """Build the ingest app publishing to `bus` (through `service`, built if not given)."""
    service = service or IngestService(settings, bus)
    receiver = Receiver(service, TokenAuth(settings.ingest_tokens))
    app = FastAPI(title="Vigil ingest", version="0.1.0")
    app.state.service = service

    for endpoint in ENDPOINTS:
        _add_route(app, receiver, endpoint)

    @app.exception_handler(IngestError)
    async def refused(request: Request, exc: IngestError) -> Response:
        return _error(request, exc.status, exc.detail, exc.headers())

    @app.exception_handler(DecodeError)
    async def undecodable(request: Request, exc: DecodeError) -> Response:
        return _error(request, 400, str(exc), {})

    @app.exception_handler(TooManyItems)
    async def too_many(request: Request, exc: TooManyItems) -> Response:
        return _error(request, PayloadTooLarge.status, str(exc), {})

    @app.exception_handler(RetryableError)
    async def unavailable(request: Request, exc: RetryableError) -> Response:
        # The bus did not acknowledge: the client should retry.
        log.warning("publish failed, answering 503: %s", exc)
        return _error(request, 503, "bus unavailable, retry later", {"Retry-After": "5"})

    def _error(request: Request, status: int, text: str, headers: dict[str, str]) -> Response:
        endpoint = BY_PATH.get(request.url.path)
        reason = {400: "malformed", 503: "unavailable"}.get(status, _REASONS.get(status, "other"))
        if status != 429:  # overload is counted where it is decided
            service.metrics.rejected.labels(
                endpoint.signal if endpoint else "request", reason
            ).inc()
        if endpoint is not None and endpoint.style == "otlp":
            media = media_type(request.headers.get("content-type"))
            return responses.otlp_error(status, text, media if media == PROTOBUF else "", headers)
        if endpoint is not None and endpoint.style == "pagerduty":
            return responses.pagerduty_error(status, text, headers)
        return responses.detail(status, text, headers)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics of this process")
    def metrics() -> Response:
        service.metrics.anomalous.set(len(service.firing))
        service.metrics.load.set(service.budget.load())
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> Response:
        ready = bus.ready()
        return responses.json_response({"ready": ready, "bus": ready}, 200 if ready else 503)

    app.add_middleware(TimingMiddleware, metrics=service.metrics, routes=set(BY_PATH))
    return app


_REASONS = {
    BadRequest.status: "malformed",
    401: "unauthorized",
    413: "too_large",
    415: "unsupported_media_type",
}


def _add_route(app: FastAPI, receiver: Receiver, endpoint: Endpoint) -> None:
    async def receive(request: Request) -> Response:
        return await receiver.handle(endpoint, request)

    receive.__name__ = "receive_" + endpoint.path.strip("/").replace("/", "_")
    app.add_api_route(
        endpoint.path,
        receive,
        methods=["POST"],
        summary=endpoint.summary,
        tags=["ingest"],
        response_class=Response,
        openapi_extra={
            "requestBody": {
                "content": {m: {"schema": {}} for m in endpoint.media},
                "required": True,
            }
        },
    )
