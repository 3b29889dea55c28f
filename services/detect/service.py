"""Composition root of the detect service."""

from __future__ import annotations

from prometheus_client.registry import Collector

from services.core.bus import Bus
from services.core.metrics import Value
from services.detect.learning import LearningLoop
from services.detect.logs.monitor import LogsMonitor
from services.detect.logs.worker import LogsWorker
from services.detect.monitor import MetricsMonitor, MonitorPolicy
from services.detect.predict.engine import Intelligence
from services.detect.predict.metrics import IntelligenceCollector
from services.detect.predict.worker import PredictionWorker
from services.detect.settings import DetectSettings
from services.detect.traces.monitor import TracesMonitor
from services.detect.traces.worker import TracesWorker
from services.detect.worker import MetricsWorker


def build_detect(settings: DetectSettings, bus: Bus) -> MetricsWorker:
    """Wire the metrics, logs and traces detectors to the bus (call before bus.start())."""
    policy = MonitorPolicy(
        fire_threshold=settings.fire_threshold,
        sustain_threshold=settings.sustain_threshold,
        fire_after=settings.fire_after,
        resolve_after=settings.resolve_after,
        max_series=settings.max_series,
    )
    metrics = MetricsWorker.attach(
        MetricsMonitor(policy),
        bus,
        group=settings.detect_group,
        checkpoint_every=settings.checkpoint_every,
    )
    build_logs_traces(settings, bus)
    metrics.learning = LearningLoop.attach(metrics.monitor, bus, settings)
    metrics.predictor = build_predict(settings, bus)
    return metrics


def build_predict(settings: DetectSettings, bus: Bus) -> PredictionWorker | None:
    """Wire load forecasting and failure prediction (None when disabled)."""
    if not settings.predict_enabled:
        return None
    intelligence = Intelligence(settings.intelligence_policy())
    return PredictionWorker.attach(
        intelligence,
        bus,
        group=settings.predict_group,
        servers=settings.kafka_servers,
        prefix=settings.topic_prefix,
    )


def detect_collector(worker: MetricsWorker) -> Collector | None:
    """Labelled gauges for /metrics: anomaly scores, failure probabilities, forecasts."""
    if worker.predictor is None:
        return None
    return IntelligenceCollector(worker.predictor.intelligence)


def build_logs_traces(settings: DetectSettings, bus: Bus) -> tuple[LogsWorker, TracesWorker]:
    """Wire the log and trace detectors (template mining, trace stats, topology) to the bus."""
    logs = LogsWorker.attach(LogsMonitor(), bus, group=settings.detect_group)
    traces = TracesWorker.attach(TracesMonitor(), bus, group=settings.detect_group)
    return logs, traces


def detect_metrics(worker: MetricsWorker) -> list[Value]:
    """The metrics detector's counters, for a /metrics registry."""
    monitor = worker.monitor
    return [
        Value("vigil_detect_points", "Metric points processed", lambda: worker.points),
        Value("vigil_detect_anomalies", "Anomalies published", lambda: worker.anomalies),
        Value("vigil_detect_series", "Series held in memory", lambda: len(monitor.series), "gauge"),
        Value(
            "vigil_detect_model_failures",
            "Series whose model failed (now on the fallback detector)",
            lambda: monitor.model_failures,
        ),
        Value("vigil_detect_out_of_order", "Late or repeated points", lambda: monitor.out_of_order),
        Value(
            "vigil_detect_skewed",
            "Points stamped too far ahead of the worker's clock, skipped",
            lambda: worker.skewed,
        ),
        Value("vigil_detect_evicted", "Series evicted at max_series", lambda: monitor.evicted),
        Value("vigil_detect_restored", "Series restored from checkpoints", lambda: worker.restored),
        Value(
            "vigil_detect_predictions",
            "Forecasts and failure predictions published",
            lambda: worker.predictor.intelligence.published if worker.predictor else 0,
        ),
    ]
