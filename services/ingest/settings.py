"""Settings of the ingest service."""

from __future__ import annotations

from pydantic import Field

from services.core.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Environment: VIGIL_INGEST_HOST, VIGIL_INGEST_PORT, VIGIL_INGEST_MAX_BODY_BYTES, ..."""

    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=4318, ge=1, le=65535)
    ingest_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    ingest_max_batch: int = Field(default=50_000, ge=1, description="Most items in one request.")
