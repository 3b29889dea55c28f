"""Other services' activity (actions, notifications) on incident timelines, idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.consumer import SignalConsumer
from services.api.incidents import service
from services.api.incidents.models import Incident
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Event, NotificationResult, RemediationRequest, RemediationResult
from tests.factories import anomaly


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        record_anomaly(session=session, anomaly=anomaly(), policy=IncidentPolicy())
    yield factory
    engine.dispose()


def test_actions_and_notifications_land_on_the_timeline_once(
    factory: sessionmaker[Session],
) -> None:
    with factory() as session:
        incident_id = session.scalars(select(Incident.id)).one()
    events: list[Event] = [
        RemediationRequest(
            id="req-1", incident_id=incident_id, action="restart", target="deploy/checkout"
        ),
        RemediationResult(
            id="res-1",
            command_id="cmd-1",
            incident_id=incident_id,
            status="succeeded",
            action="restart",
            target="deploy/checkout",
        ),
        NotificationResult(
            id="note-1",
            notification_id="n-1",
            channel="slack",
            incident_id=incident_id,
            status="delivered",
        ),
        RemediationResult(id="res-x", command_id="c", incident_id="unknown", status="failed"),
    ]
    consumer = SignalConsumer(factory, IncidentPolicy())
    for _ in range(2):  # redelivered: nothing new
        asyncio.run(consumer.handle_activity(events))
    with factory() as session:
        kinds = [e.kind for e in service.timeline(session=session, incident_id=incident_id)]
    assert kinds[-3:] == ["action.proposed", "action.executed", "notification.sent"]
    assert len(kinds) == 5
