"""Settings shared by every service. Each service subclasses `CommonSettings` once.

All configuration comes from environment variables prefixed `VIGIL_` (or keyword arguments in
tests). Nothing else in the code base reads os.environ.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///./vigil.db"


class CommonSettings(BaseSettings):
    """Connection and logging settings every service needs."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    environment: Literal["local", "dev", "staging", "production"] = "local"
    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    database_url: str = Field(
        default=DEFAULT_SQLITE_URL, description="SQLAlchemy URL (PostgreSQL or SQLite)."
    )
    topic_prefix: str = Field(
        default="", description="Prepended to every Kafka topic, to share a cluster."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "text"

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        if not url.startswith(("postgresql", "sqlite")):
            raise ValueError("database_url must be a postgresql:// or sqlite:// URL")
        if url.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; make the plain scheme mean it.
            return "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url

    @property
    def kafka_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",") if s.strip()]
