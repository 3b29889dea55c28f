"""API schemas for silences and maintenance windows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.api.silences.matching import Op, check_pattern

_EXAMPLE: dict[str, Any] = {
    "kind": "maintenance",
    "matchers": [
        {"label": "service", "op": "=", "value": "payments"},
        {"label": "env", "op": "=~", "value": "prod|staging"},
    ],
    "starts_at": "2026-11-28T02:00:00Z",
    "ends_at": "2026-11-28T04:00:00Z",
    "comment": "database failover drill",
}


class MatcherSchema(BaseModel):
    """One condition on a signal label: `=`, `!=`, `=~` (regex, whole value) or `!~`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"label": "service", "op": "=", "value": "payments"}]}
    )

    label: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")
    op: Op = Op.EQ
    value: str = Field(max_length=256)

    @model_validator(mode="after")
    def _valid_regex(self) -> Self:
        if self.op in (Op.RE, Op.NOT_RE):
            check_pattern(self.value)
        return self


class SilenceBase(BaseModel):
    kind: Literal["silence", "maintenance"] = Field(
        default="silence",
        description="`maintenance` for planned windows; both silence matching signals.",
    )
    matchers: list[MatcherSchema] = Field(min_length=1, max_length=32)
    comment: str = Field(default="", max_length=2000)


class SilenceCreate(SilenceBase):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    starts_at: datetime | None = Field(default=None, description="Default: now.")
    ends_at: datetime

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _require_zone(value)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceUpdate(BaseModel):
    """Fields to change; omitted fields stay as they are. Set `ends_at` to now to expire."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"ends_at": "2026-11-28T03:00:00Z"}]})

    matchers: list[MatcherSchema] | None = Field(default=None, min_length=1, max_length=32)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: str | None = Field(default=None, max_length=2000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _require_zone(value)


class SilenceRead(SilenceBase):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                    **_EXAMPLE,
                    "created_by": "alice",
                    "created_at": "2026-11-27T10:00:00Z",
                    "updated_at": "2026-11-27T10:00:00Z",
                    "active": False,
                }
            ]
        },
    )

    id: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    active: bool = Field(default=False, description="Whether the silence is in force now.")


class SilencePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                            **_EXAMPLE,
                            "created_by": "alice",
                            "created_at": "2026-11-27T10:00:00Z",
                            "updated_at": "2026-11-27T10:00:00Z",
                            "active": False,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[SilenceRead]
    next_cursor: str | None = None


def _require_zone(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps need a time zone (e.g. 2026-11-28T02:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc
