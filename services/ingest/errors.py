"""Why a request is refused, as the HTTP status to answer. Mapped to responses in app.py."""

from __future__ import annotations

from services.core.errors import VigilError


class IngestError(VigilError):
    """A refused request: `status` to answer, `reason` for the rejected-requests counter."""

    status = 400
    reason = "malformed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(IngestError):
    """Malformed input; the detail names the bad field."""


class Unauthorized(IngestError):
    status, reason = 401, "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="vigil-ingest"'}


class PayloadTooLarge(IngestError):
    status, reason = 413, "too_large"


class UnsupportedMediaType(IngestError):
    status, reason = 415, "unsupported_media_type"


class Overloaded(IngestError):
    """Over the in-flight budget: retry later."""

    status, reason = 429, "overloaded"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}
