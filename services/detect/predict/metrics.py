"""Prometheus gauges of the learning loop: anomaly scores, failure probabilities, forecasts.

Labels stay bounded: one series per service (at most `IntelligencePolicy.max_services`), per
resource metric (the configured few) and per forecast horizon (`forecast_buckets`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.detect.predict.engine import Intelligence


class IntelligenceCollector(Collector):
    """Reads the predictor's latest values when Prometheus scrapes."""

    def __init__(self, intelligence: Intelligence) -> None:
        self.intelligence = intelligence

    def collect(self) -> Iterator[Metric]:
        service = ["tenant", "service"]
        score = GaugeMetricFamily(
            "vigil_anomaly_score",
            "Highest score among the service's firing anomalies (0: none firing)",
            labels=service,
        )
        firing = GaugeMetricFamily(
            "vigil_anomalous_series", "Series of the service currently anomalous", labels=service
        )
        failure = GaugeMetricFamily(
            "vigil_failure_probability",
            "Probability of a failure (incident) within the horizon",
            labels=[*service, "model"],
        )
        forecast = GaugeMetricFamily(
            "vigil_load_forecast",
            "Forecast of the service's load metric, per bucket ahead",
            labels=[*service, "metric", "ahead_s"],
        )
        exhaustion = GaugeMetricFamily(
            "vigil_resource_seconds_to_limit",
            "Seconds until a resource reaches its limit at the current trend",
            labels=[*service, "resource"],
        )
        policy = self.intelligence.policy
        step = policy.forecast.step_s
        for (tenant, name), view in list(self.intelligence.services.items()):
            labels = [tenant, name]
            score.add_metric(labels, max(view.firing.values(), default=0.0))
            firing.add_metric(labels, float(len(view.firing)))
            failure.add_metric([*labels, "trend"], view.probability)
            if view.learnt is not None:
                failure.add_metric([*labels, "classifier"], view.learnt)
            for k, value in enumerate(view.forecast, start=1):
                forecast.add_metric([*labels, policy.load_metric, str(k * step)], value)
        for tenant, name, metric, seconds in self.intelligence.resource_gauges():
            exhaustion.add_metric([tenant, name, metric], seconds)
        yield from (score, firing, failure, forecast, exhaustion)
