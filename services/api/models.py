"""Every ORM model of the api service, imported in one place for Alembic and the app."""

from services.api.audit.models import AuditRecord
from services.api.auth.models import ApiKey
from services.api.feedback.models import FeedbackEntry
from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.incidents.topology import TopologyRow
from services.api.learning_models.models import (
    DetectorVersionRow,
    ModelRecord,
    ShadowAnomaly,
    ShadowReportRow,
    ShadowRun,
)
from services.api.notifications.models import NotificationChannel, NotificationDelivery
from services.api.outbox import OutboxMessage
from services.api.predictions.models import PredictionRecord
from services.api.remediation.models import (
    KillSwitchRow,
    RemediationAction,
    RemediationDecision,
    StoredPolicy,
)
from services.api.silences.models import Silence
from services.core.db import Base

__all__ = [
    "ApiKey",
    "AuditRecord",
    "Base",
    "DetectorVersionRow",
    "FeedbackEntry",
    "Incident",
    "KillSwitchRow",
    "ModelRecord",
    "NotificationChannel",
    "NotificationDelivery",
    "OutboxMessage",
    "PredictionRecord",
    "RemediationAction",
    "RemediationDecision",
    "ShadowAnomaly",
    "ShadowReportRow",
    "ShadowRun",
    "Signal",
    "Silence",
    "StoredPolicy",
    "TimelineEntry",
    "TopologyRow",
]
