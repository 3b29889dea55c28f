"""Settings of the detect service."""

from __future__ import annotations

from pydantic import Field

from services.core.settings import CommonSettings


class DetectSettings(CommonSettings):
    """Environment: VIGIL_KAFKA_BOOTSTRAP, VIGIL_DETECT_GROUP, VIGIL_FIRE_THRESHOLD, ..."""

    detect_group: str = "vigil-detect"
    detect_http_host: str = Field(
        default="127.0.0.1", description="Where `vigil run detect` serves /healthz, /metrics."
    )
    detect_http_port: int = Field(default=9464, ge=1, le=65535)
    fire_threshold: float = Field(
        default=0.92, gt=0, le=1, description="Score of the point that starts an anomaly."
    )
    sustain_threshold: float = Field(
        default=0.8, gt=0, le=1, description="Score the following points must keep."
    )
    fire_after: int = Field(default=2, ge=1)
    resolve_after: int = Field(default=5, ge=1)
    max_series: int = Field(default=100_000, ge=1)
    checkpoint_every: int = Field(
        default=50, ge=1, description="Checkpoint a series' state every N of its points."
    )
