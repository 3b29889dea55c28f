"""API schemas for API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.api.auth.roles import Role


class KeyBase(BaseModel):
    name: str = Field(min_length=1, max_length=128, description="Who or what uses the key.")
    role: Role


class KeyCreate(KeyBase):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "alice", "role": "responder"}]}
    )


class KeyRead(KeyBase):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3fa85f6457a1",
                    "name": "alice",
                    "role": "responder",
                    "created_at": "2026-11-27T09:00:00Z",
                    "created_by": "admin",
                    "revoked_at": None,
                }
            ]
        },
    )

    id: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None


class KeyCreated(KeyRead):
    """The new key, with the secret `key` shown this once and never again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3fa85f6457a1",
                    "name": "alice",
                    "role": "responder",
                    "created_at": "2026-11-27T09:00:00Z",
                    "created_by": "admin",
                    "revoked_at": None,
                    "key": "vgl_3fa85f6457a1_Zx0...",
                }
            ]
        }
    )

    key: str = Field(description="Send as `Authorization: Bearer KEY`. Shown only once.")
