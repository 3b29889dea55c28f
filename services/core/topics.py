"""The one registry of topics: name, schema and partition count.

Topics are the contract between services; nothing else in the code base spells a topic name.
Each topic has a dead-letter sibling `<name>.dlq` for messages that could not be handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core import events


@dataclass(frozen=True)
class Topic:
    """A bus topic and the event model its messages carry."""

    name: str
    schema: type[events.Event]
    partitions: int = 6
    compacted: bool = False
    # A message may carry a JSON array of events that share its partition (high-volume
    # telemetry); consumers still see one event at a time. See docs/architecture.md.
    batched: bool = False

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


TELEMETRY_METRICS = Topic("telemetry.metrics", events.MetricPoint, partitions=12, batched=True)
TELEMETRY_LOGS = Topic("telemetry.logs", events.LogRecord, partitions=6, batched=True)
TELEMETRY_TRACES = Topic("telemetry.traces", events.Span, partitions=6, batched=True)
ALERTS_EXTERNAL = Topic("alerts.external", events.ExternalAlert, partitions=3)
ANOMALIES = Topic("anomalies", events.Anomaly, partitions=6)
PREDICTIONS = Topic("predictions", events.Prediction, partitions=3)
TOPOLOGY = Topic("topology", events.TopologySnapshot, partitions=1, compacted=True)
INCIDENTS = Topic("incidents", events.IncidentEvent, partitions=3)
REMEDIATION_REQUESTS = Topic("remediation.requests", events.RemediationRequest, partitions=3)
REMEDIATION_COMMANDS = Topic("remediation.commands", events.RemediationCommand, partitions=3)
REMEDIATION_RESULTS = Topic("remediation.results", events.RemediationResult, partitions=3)
# Partitioned like remediation.commands, so a worker owns the control partitions of its commands.
REMEDIATION_CONTROL = Topic(
    "remediation.control", events.RemediationControl, partitions=3, compacted=True
)
FEEDBACK = Topic("feedback", events.Feedback, partitions=3)
# Model management (docs/learning.md): the api's desired detector state (one key, read by every
# detect worker from the start), per-series model records and shadow-run reports from detect.
MODELS_CONTROL = Topic("models.control", events.ModelControl, partitions=1, compacted=True)
MODELS = Topic("models", events.ModelReport, partitions=3, compacted=True)
MODELS_SHADOW = Topic("models.shadow", events.ShadowReport, partitions=3)
NOTIFICATIONS = Topic("notifications", events.Notification, partitions=3)
NOTIFICATIONS_RESULTS = Topic("notifications.results", events.NotificationResult, partitions=3)

ALL_TOPICS: tuple[Topic, ...] = (
    TELEMETRY_METRICS,
    TELEMETRY_LOGS,
    TELEMETRY_TRACES,
    ALERTS_EXTERNAL,
    ANOMALIES,
    PREDICTIONS,
    TOPOLOGY,
    INCIDENTS,
    REMEDIATION_REQUESTS,
    REMEDIATION_COMMANDS,
    REMEDIATION_RESULTS,
    REMEDIATION_CONTROL,
    FEEDBACK,
    MODELS_CONTROL,
    MODELS,
    MODELS_SHADOW,
    NOTIFICATIONS,
    NOTIFICATIONS_RESULTS,
)

BY_NAME: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}


def topic_named(name: str) -> Topic:
    """Look a topic up by name; raises KeyError for names outside the registry."""
    return BY_NAME[name]
