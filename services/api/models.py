"""Every ORM model of the api service, imported in one place for Alembic and the app."""

from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.outbox import OutboxMessage
from services.core.db import Base

__all__ = ["Base", "Incident", "OutboxMessage", "Signal", "TimelineEntry"]
