"""Composition root of the remediate service."""

from __future__ import annotations

from services.core.bus import Bus
from services.remediate.settings import RemediateSettings
from services.remediate.worker import RemediationWorker


def build_remediate(settings: RemediateSettings, bus: Bus) -> RemediationWorker:
    """Wire the remediation worker (call before bus.start())."""
    worker = RemediationWorker(bus)
    worker.attach(group=settings.remediate_group)
    return worker
