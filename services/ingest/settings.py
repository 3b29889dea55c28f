"""Settings of the ingest service (environment variables prefixed VIGIL_INGEST_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from services.core.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Environment: VIGIL_INGEST_HOST, VIGIL_INGEST_PORT, VIGIL_INGEST_MAX_BODY_BYTES, ..."""

    ingest_host: str = "127.0.0.1"
    ingest_port: int = Field(default=4318, ge=1, le=65535)

    # -- request limits (413) ---------------------------------------------------------------
    ingest_max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body as sent."
    )
    ingest_max_decompressed_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest body after gzip/snappy."
    )
    ingest_max_batch: int = Field(default=50_000, ge=1, description="Most items in one request.")

    # -- authentication (401) -----------------------------------------------------------------
    ingest_tokens: dict[str, str] = Field(
        default_factory=dict,
        description='Ingest token -> tenant, as JSON: {"s3cret": "team-a"}. Empty: no auth.',
    )

    # -- backpressure (429) and shedding ------------------------------------------------------
    ingest_max_inflight_points: int = Field(
        default=100_000, ge=1, description="Items decoded and not yet acknowledged by Kafka."
    )
    ingest_max_inflight_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Request bodies being processed."
    )
    ingest_shed_low_at: float = Field(
        default=0.5, gt=0, le=1, description="Load at which low-priority telemetry is shed."
    )
    ingest_shed_normal_at: float = Field(
        default=0.8, gt=0, le=1, description="Load at which all but critical telemetry is shed."
    )
    ingest_retry_after_s: int = Field(default=1, ge=1, description="Retry-After on 429.")

    # -- cardinality guard --------------------------------------------------------------------
    ingest_max_series_per_metric: int = Field(default=10_000, ge=1)
    ingest_max_series_per_tenant: int = Field(default=200_000, ge=1)
    ingest_max_tenants: int = Field(default=1_000, ge=1)
    ingest_max_log_services_per_tenant: int = Field(
        default=10_000, ge=1, description="Distinct services sending logs, per tenant."
    )
    ingest_max_operations_per_service: int = Field(
        default=2_000, ge=1, description="Distinct span operations per service."
    )
    ingest_max_span_series_per_tenant: int = Field(
        default=100_000, ge=1, description="Distinct (service, operation) span pairs per tenant."
    )
    ingest_series_ttl_s: float = Field(
        default=3600.0, gt=0, description="A series unseen this long stops counting to caps."
    )

    # -- normalisation ------------------------------------------------------------------------
    ingest_rate_state_max_series: int = Field(
        default=500_000, ge=1, description="Cumulative series remembered to compute rates (LRU)."
    )
    ingest_quantiles: tuple[float, ...] = Field(
        default=(0.5, 0.9, 0.99), description="Quantiles estimated from histograms."
    )
    ingest_counter_suffixes: tuple[str, ...] = Field(
        default=("_total", "_count", "_sum", "_bucket"),
        description="remote_write series with these suffixes are counters (turned into rates).",
    )

    # -- Kafka --------------------------------------------------------------------------------
    ingest_points_per_message: int = Field(
        default=500, ge=1, description="Telemetry events per Kafka message (1: one each)."
    )
    ingest_kafka_compression: Literal["gzip", "lz4", "snappy", "zstd", "none"] = "lz4"
    ingest_kafka_linger_ms: int = Field(default=5, ge=0)
    ingest_follow_anomalies: bool = Field(
        default=True, description="Read the anomalies topic to keep anomalous series flowing."
    )

    @field_validator("ingest_quantiles")
    @classmethod
    def _quantiles_in_range(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 < q < 1 for q in value):
            raise ValueError("quantiles must be strictly between 0 and 1")
        return tuple(sorted(set(value)))

    @field_validator("ingest_tokens")
    @classmethod
    def _tokens_not_trivial(cls, value: dict[str, str]) -> dict[str, str]:
        for token, tenant in value.items():
            if len(token) < 8:
                raise ValueError("ingest tokens must be at least 8 characters")
            if not tenant:
                raise ValueError("every ingest token needs a tenant")
        return value

    @property
    def kafka_compression(self) -> str | None:
        """The producer's compression_type."""
        return None if self.ingest_kafka_compression == "none" else self.ingest_kafka_compression
