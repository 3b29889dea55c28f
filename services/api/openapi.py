"""Shared OpenAPI pieces: the error body and the error responses each route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorBody(BaseModel):
    """Every error answers `{"detail": "..."}` (422 adds the failing fields as a list)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "incident 5f0c1d2e not found"}]}
    )

    detail: str


_DESCRIPTIONS = {
    400: "Malformed cursor or parameter.",
    401: "Missing, unknown or revoked API key.",
    403: "The key's role does not allow this.",
    404: "No such resource.",
    409: "Conflicts with the current state (e.g. acknowledging a resolved incident).",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: 401 and 403 always, plus the given codes."""
    wanted = sorted({401, 403, *codes})
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in wanted}
