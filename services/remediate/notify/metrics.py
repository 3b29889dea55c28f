"""Per-channel notification metrics for the remediate /metrics (read at scrape time)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from services.remediate.notify.incidents import NotificationPlanner
from services.remediate.notify.pipeline import NotificationWorker


class NotifyCollector(Collector):
    """`vigil_notify_{sent,failed,retries,duplicates}{channel}` and the planner's counts."""

    def __init__(self, worker: NotificationWorker, planner: NotificationPlanner | None) -> None:
        self.worker = worker
        self.planner = planner

    def collect(self) -> Iterator[Metric]:
        families = {
            "sent": CounterMetricFamily(
                "vigil_notify_sent", "Notifications delivered", labels=["channel"]
            ),
            "failed": CounterMetricFamily(
                "vigil_notify_failed",
                "Notifications failed for good (dead-lettered)",
                labels=["channel"],
            ),
            "retried": CounterMetricFamily(
                "vigil_notify_retries", "Delivery attempts repeated", labels=["channel"]
            ),
            "duplicates": CounterMetricFamily(
                "vigil_notify_duplicates",
                "Redelivered notifications answered from the ledger",
                labels=["channel"],
            ),
        }
        for channel, counts in sorted(self.worker.counters.items()):
            for field, family in families.items():
                family.add_metric([channel], float(getattr(counts, field)))
        yield from families.values()
        if self.planner is not None:
            planned = CounterMetricFamily(
                "vigil_notify_planned", "Notifications planned from incident changes"
            )
            planned.add_metric([], float(self.planner.planned))
            digests = CounterMetricFamily("vigil_notify_digests", "Flood digests sent")
            digests.add_metric([], float(self.planner.digests))
            yield planned
            yield digests
