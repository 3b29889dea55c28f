from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents import service
from services.api.incidents.correlation import CorrelationPolicy
from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.outbox import OutboxMessage
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Anomaly, IncidentEvent, Severity
from tests.factories import anomaly

POLICY = CorrelationPolicy()


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def _record(factory: sessionmaker[Session], a: Anomaly) -> list[IncidentEvent]:
    with transaction(factory) as session:
        return service.record_anomaly(session=session, anomaly=a, policy=POLICY)


def _count(factory: sessionmaker[Session], model: type[object]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_burst_of_anomalies_on_one_service_makes_one_incident(
    factory: sessionmaker[Session],
) -> None:
    events = _record(factory, anomaly(series="a", minute=0))
    events += _record(factory, anomaly(series="b", minute=1))
    events += _record(factory, anomaly(series="c", minute=2, severity=Severity.CRITICAL))
    assert [e.type.value for e in events] == ["opened", "updated"]
    with factory() as session:
        incident = session.scalars(select(Incident)).one()
    assert incident.firing == ["a", "b", "c"]
    assert incident.severity == "critical"
    assert incident.signal_count == 3


def test_redelivered_anomaly_changes_nothing(factory: sessionmaker[Session]) -> None:
    first = anomaly(series="a")
    assert len(_record(factory, first)) == 1
    before = (
        _count(factory, Signal),
        _count(factory, TimelineEntry),
        _count(factory, OutboxMessage),
    )
    assert _record(factory, first) == []
    after = (
        _count(factory, Signal),
        _count(factory, TimelineEntry),
        _count(factory, OutboxMessage),
    )
    assert before == after
    assert _count(factory, Incident) == 1


def test_incident_resolves_when_every_series_recovered(factory: sessionmaker[Session]) -> None:
    _record(factory, anomaly(series="a", minute=0))
    _record(factory, anomaly(series="b", minute=1))
    assert _record(factory, anomaly("resolved", series="a", minute=5)) == []
    events = _record(factory, anomaly("resolved", series="b", minute=6))
    assert [e.type.value for e in events] == ["resolved"]
    with factory() as session:
        incident = session.scalars(select(Incident)).one()
        kinds = [e.kind for e in service.timeline(session=session, incident_id=incident.id)]
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    assert kinds[0] == "anomaly.firing" and "incident.opened" in kinds
    assert kinds[-1] == "incident.resolved"


def test_service_firing_again_soon_after_resolution_reopens_the_incident(
    factory: sessionmaker[Session],
) -> None:
    _record(factory, anomaly(series="a", minute=0))
    _record(factory, anomaly("resolved", series="a", minute=3))
    events = _record(factory, anomaly(series="a", minute=8))
    assert [e.type.value for e in events] == ["reopened"]
    assert _count(factory, Incident) == 1


def test_different_services_get_different_incidents(factory: sessionmaker[Session]) -> None:
    _record(factory, anomaly(service="checkout", series="a"))
    _record(factory, anomaly(service="payments", series="b"))
    assert _count(factory, Incident) == 2


def test_every_incident_change_is_written_to_the_outbox(factory: sessionmaker[Session]) -> None:
    _record(factory, anomaly(series="a", minute=0))
    _record(factory, anomaly("resolved", series="a", minute=2))
    with factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    kinds = [IncidentEvent.model_validate_json(r.payload).type.value for r in rows]
    assert kinds == ["opened", "resolved"]
    assert all(r.topic == "incidents" and r.published_at is None for r in rows)
