"""Settings of the api service."""

from __future__ import annotations

from pydantic import Field

from services.core.settings import CommonSettings


class ApiSettings(CommonSettings):
    """Environment: VIGIL_API_HOST, VIGIL_API_PORT, VIGIL_DATABASE_URL, VIGIL_REOPEN_WINDOW_S."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    api_group: str = "vigil-api"
    reopen_window_s: float = Field(
        default=900,
        ge=0,
        description="A resolved incident reopens if its service fires again within this time.",
    )
    outbox_poll_s: float = Field(default=0.5, gt=0)
    outbox_batch: int = Field(default=500, ge=1)
