"""The receiving routes: one table row per endpoint, one generic handler for all of them.

Each request goes: media type and encoding (415) -> token (401) -> capacity (429) -> body
within limits (413) -> decompress -> pure decoder (400) -> IngestService.submit (429 / 503)
-> the answer the sender's protocol expects. Errors are raised, and mapped to responses in
one place (`app.py`), in the style of the route's protocol.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from services.ingest import responses
from services.ingest.auth import TokenAuth
from services.ingest.body import (
    JSON,
    PROTOBUF,
    check_encoding,
    decompress,
    read_limited,
    require_media,
)
from services.ingest.errors import BadRequest, Overloaded
from services.ingest.formats import (
    DecodeContext,
    Decoded,
    alertmanager,
    native_json,
    otlp_logs,
    otlp_metrics,
    otlp_traces,
    pagerduty,
    remote_write,
)
from services.ingest.service import IngestService, Outcome

Style = Literal["otlp", "pagerduty", "plain"]
Decoder = Callable[[Any, DecodeContext], Decoded]


@dataclass(frozen=True)
class Endpoint:
    """One receiving route: what it accepts, how it decodes, how it answers."""

    path: str
    signal: str  # metrics, logs, traces, alerts or mixed (for counters)
    source: str  # the format, for counters
    style: Style
    decoders: dict[str, Decoder]  # media type -> decoder (bytes for protobuf, parsed JSON)
    summary: str

    @property
    def media(self) -> tuple[str, ...]:
        return tuple(self.decoders)


ENDPOINTS = (
    Endpoint(
        "/v1/metrics",
        "metrics",
        "otlp",
        "otlp",
        {PROTOBUF: otlp_metrics.decode_protobuf, JSON: otlp_metrics.decode_json},
        "OTLP/HTTP metrics",
    ),
    Endpoint(
        "/v1/logs",
        "logs",
        "otlp",
        "otlp",
        {PROTOBUF: otlp_logs.decode_protobuf, JSON: otlp_logs.decode_json},
        "OTLP/HTTP logs",
    ),
    Endpoint(
        "/v1/traces",
        "traces",
        "otlp",
        "otlp",
        {PROTOBUF: otlp_traces.decode_protobuf, JSON: otlp_traces.decode_json},
        "OTLP/HTTP traces",
    ),
    Endpoint(
        "/api/v1/write",
        "metrics",
        "remote_write",
        "plain",
        {PROTOBUF: remote_write.decode},
        "Prometheus remote_write 1.0 (snappy-compressed protobuf)",
    ),
    Endpoint(
        "/v1/alerts/alertmanager",
        "alerts",
        "alertmanager",
        "plain",
        {JSON: alertmanager.decode},
        "Alertmanager webhook (version 4)",
    ),
    Endpoint(
        "/v2/enqueue",
        "alerts",
        "pagerduty",
        "pagerduty",
        {JSON: pagerduty.decode},
        "PagerDuty Events API v2-compatible intake",
    ),
    Endpoint(
        "/v1/json/metrics",
        "metrics",
        "json",
        "plain",
        {JSON: native_json.decode_metrics},
        "Metrics in Vigil's JSON format",
    ),
    Endpoint(
        "/v1/json",
        "mixed",
        "json",
        "plain",
        {JSON: native_json.decode_batch},
        "Metrics, logs and events in Vigil's JSON format",
    ),
)
BY_PATH = {e.path: e for e in ENDPOINTS}


class Receiver:
    """Runs the generic request flow for every endpoint."""

    def __init__(self, service: IngestService, auth: TokenAuth) -> None:
        self.service = service
        self.auth = auth
        self.settings = service.settings

    async def handle(self, endpoint: Endpoint, request: Request) -> Response:
        """Receive one request for `endpoint`."""
        headers = request.headers
        media = require_media(headers.get("content-type"), endpoint.media)
        encoding = check_encoding(headers.get("content-encoding"))
        tenant = None if endpoint.style == "pagerduty" else self.auth.tenant(headers)
        self.service.check_capacity()
        limits = self.settings
        body = await read_limited(
            request.stream(), headers.get("content-length"), limits.ingest_max_body_bytes
        )
        budget = self.service.budget
        if not budget.take_bytes(len(body)):
            self.service.metrics.rejected.labels("request", "overloaded").inc()
            raise Overloaded(
                "ingest is over its in-flight byte budget", limits.ingest_retry_after_s
            )
        try:
            raw = decompress(body, encoding, limits.ingest_max_decompressed_bytes)
            data: Any = raw if media == PROTOBUF else _parse_json(raw)
            if tenant is None:
                key = data.get("routing_key") if isinstance(data, dict) else None
                tenant = self.auth.tenant(headers, key if isinstance(key, str) else None)
            decoded = endpoint.decoders[media](data, self.service.context(tenant))
            outcome = await self.service.submit(
                decoded, tenant=tenant, signal=endpoint.signal, source=endpoint.source
            )
        finally:
            budget.release_bytes(len(body))
        return _answer(endpoint, media, decoded, outcome)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body: not valid JSON ({str(exc)[:200]})") from None


def _answer(endpoint: Endpoint, media: str, decoded: Decoded, outcome: Outcome) -> Response:
    if endpoint.style == "otlp":
        return responses.otlp_success(endpoint.signal, outcome.rejected, media)
    if endpoint.style == "pagerduty":
        return responses.pagerduty_accepted(decoded.alerts[0].fingerprint)
    if endpoint.source == "remote_write":
        rejected = outcome.rejected.total
        return Response(status_code=204, headers={"X-Vigil-Rejected": str(rejected)})
    return responses.accepted(outcome.accepted, outcome.rejected)
