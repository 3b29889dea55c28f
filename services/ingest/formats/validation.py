"""Turning pydantic validation errors into the one field and problem a client needs."""

from __future__ import annotations

from pydantic import ValidationError


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(field path, problem) of the first error, e.g. ("points.0.value", "Input should be ...")."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return where, f"{err['msg']}{more}"
