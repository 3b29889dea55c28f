"""Settings of the detect service."""

from __future__ import annotations

import json

from pydantic import Field, field_validator

from services.core.settings import CommonSettings
from services.detect.forecast.seasonal import ForecastPolicy
from services.detect.predict.engine import IntelligencePolicy
from services.detect.predict.exhaustion import ExhaustionPolicy
from services.detect.predict.failure import FailurePolicy


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
    # -- learning loop: forecasts and failure prediction (docs/learning.md) ------------------
    predict_enabled: bool = Field(
        default=True, description="Run load forecasts and failure prediction."
    )
    predict_group: str = Field(
        default="vigil-detect-predict",
        description="In-memory bus only: the predictor's group for anomalies and incidents.",
    )
    forecast_metric: str = Field(
        default="http_requests_per_second",
        min_length=1,
        description="The load metric forecast per service (for predictive scaling).",
    )
    forecast_step_s: int = Field(
        default=300, ge=10, le=86_400, description="Forecast bucket width; divides a day."
    )
    forecast_buckets: int = Field(
        default=3, ge=1, le=288, description="How many buckets ahead each forecast covers."
    )
    resource_limits: str = Field(
        default='{"memory_bytes": "memory_limit_bytes", "disk_used_bytes": "disk_limit_bytes"}',
        description="JSON: resource metric -> limit metric (same labels) or constant.",
    )
    failure_horizon_s: float = Field(
        default=3600, gt=0, description="Failure predictions are about the next this long."
    )
    failure_threshold: float = Field(
        default=0.8, gt=0, le=1, description="Probability that opens a predicted incident."
    )
    failure_sustain_s: float = Field(
        default=600, ge=0, description="... once it stayed above the threshold this long."
    )

    @field_validator("forecast_step_s")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if 86_400 % value:
            raise ValueError("forecast_step_s must divide a day (86400 s)")
        return value

    @field_validator("resource_limits")
    @classmethod
    def _limits_are_json(cls, value: str) -> str:
        parsed = json.loads(value or "{}")
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
            for k, v in parsed.items()
        ):
            raise ValueError('resource_limits must be JSON like {"memory_bytes": "memory_limit"}')
        return value

    def intelligence_policy(self) -> IntelligencePolicy:
        """The predictor's policy these settings describe."""
        limits = json.loads(self.resource_limits or "{}")
        return IntelligencePolicy(
            load_metric=self.forecast_metric,
            forecast=ForecastPolicy(step_s=self.forecast_step_s),
            forecast_buckets=self.forecast_buckets,
            limits={k: v if isinstance(v, str) else float(v) for k, v in limits.items()},
            exhaustion=ExhaustionPolicy(horizon_s=self.failure_horizon_s),
            failure=FailurePolicy(horizon_s=self.failure_horizon_s),
            threshold=self.failure_threshold,
            resolve_below=self.failure_threshold * 0.625,
            sustain_s=self.failure_sustain_s,
        )
