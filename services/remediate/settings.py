"""Settings of the remediate service."""

from __future__ import annotations

from services.core.settings import CommonSettings


class RemediateSettings(CommonSettings):
    """Environment: VIGIL_KAFKA_BOOTSTRAP, VIGIL_REMEDIATE_GROUP, ..."""

    remediate_group: str = "vigil-remediate"
