"""Composition root of the detect service."""

from __future__ import annotations

from services.core.bus import Bus
from services.detect.monitor import MetricsMonitor, MonitorPolicy
from services.detect.settings import DetectSettings
from services.detect.worker import MetricsWorker


def build_detect(settings: DetectSettings, bus: Bus) -> MetricsWorker:
    """Wire the metrics monitor to the bus (call before bus.start())."""
    policy = MonitorPolicy(
        fire_threshold=settings.fire_threshold,
        sustain_threshold=settings.sustain_threshold,
        fire_after=settings.fire_after,
        resolve_after=settings.resolve_after,
        max_series=settings.max_series,
    )
    return MetricsWorker.attach(
        MetricsMonitor(policy),
        bus,
        group=settings.detect_group,
        checkpoint_every=settings.checkpoint_every,
    )
