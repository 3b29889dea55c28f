"""Root causes on incidents: ranked from the learned topology and each service's first firing
signal, stored with the incident, re-ranked when a new service joins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.incidents import topology
from services.api.incidents.models import Incident, TimelineEntry
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import TopologyEdge, TopologySnapshot
from tests.factories import T0, anomaly, make_key

CHAIN = [("frontend", "checkout"), ("checkout", "payments")]


def seed_chain(factory: sessionmaker[Session]) -> None:
    """Store a traces snapshot of frontend -> checkout -> payments (shared with PostgreSQL)."""
    at = T0 + timedelta(minutes=10)
    edges = [
        TopologyEdge(caller=a, callee=b, calls=100, errors=5, first_seen=at, last_seen=at)
        for a, b in CHAIN
    ]
    with transaction(factory) as session:
        topology.store(session, [TopologySnapshot(id="topo", at=at, edges=edges)])


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    seed_chain(factory)
    yield factory
    engine.dispose()


def _fire(factory: sessionmaker[Session], service: str, minute: float) -> None:
    with transaction(factory) as session:
        signal = anomaly(service=service, series=f'latency{{service="{service}"}}', minute=minute)
        record_anomaly(session=session, anomaly=signal, policy=IncidentPolicy())


def _incident(factory: sessionmaker[Session]) -> Incident:
    with factory() as session:
        [incident] = session.scalars(select(Incident)).all()
        return incident


def _ranked(factory: sessionmaker[Session]) -> list[dict[str, object]]:
    with factory() as session:
        query = select(TimelineEntry).where(TimelineEntry.kind == "rca.ranked")
        return [e.detail for e in session.scalars(query.order_by(TimelineEntry.id))]


def test_the_service_anomalous_first_at_the_bottom_of_the_chain_ranks_first(
    factory: sessionmaker[Session],
) -> None:
    # Correlation groups the neighbours of the service that opened the incident, so the middle
    # of the chain is detected first here; payments' anomaly started earlier, reported later.
    _fire(factory, "checkout", 1)
    _fire(factory, "payments", 0)
    _fire(factory, "frontend", 2)
    incident = _incident(factory)
    assert incident.services == ["checkout", "payments", "frontend"]
    assert incident.root_causes is not None
    assert [c["service"] for c in incident.root_causes] == ["payments", "checkout", "frontend"]
    assert "explains checkout, frontend" in str(incident.root_causes[0]["reason"])
    # the top cause never changed: one timeline entry
    assert [(e["top"], e["previous"]) for e in _ranked(factory)] == [("payments", None)]


def test_the_ranking_updates_when_a_new_service_joins(factory: sessionmaker[Session]) -> None:
    _fire(factory, "checkout", 0)
    _fire(factory, "frontend", 1)
    first = _incident(factory).root_causes
    assert first is not None
    assert [(c["service"], c["anomalous"]) for c in first] == [
        ("checkout", True),
        ("payments", False),  # a silent dependency of an anomalous service
        ("frontend", True),
    ]
    # payments' anomaly started before checkout's but arrives last: it explains both
    _fire(factory, "payments", -0.5)
    incident = _incident(factory)
    assert incident.root_causes is not None
    assert [c["service"] for c in incident.root_causes] == ["payments", "checkout", "frontend"]
    assert all(c["anomalous"] for c in incident.root_causes)
    assert [(e["top"], e["previous"]) for e in _ranked(factory)] == [
        ("checkout", None),
        ("payments", "checkout"),
    ]


def test_a_redelivered_signal_does_not_rank_again(factory: sessionmaker[Session]) -> None:
    _fire(factory, "payments", 0)
    _fire(factory, "checkout", 1)
    _fire(factory, "checkout", 1)
    assert len(_ranked(factory)) == 1


def test_root_causes_are_served_with_the_incident(factory: sessionmaker[Session]) -> None:
    _fire(factory, "payments", 0)
    key = make_key(factory, "viewer")
    with TestClient(create_app(factory), headers={"Authorization": f"Bearer {key}"}) as client:
        [single] = client.get("/api/v1/incidents").json()["items"]
        assert single["root_causes"] == []  # one service: nothing to rank
        _fire(factory, "checkout", 1)
        body = client.get(f"/api/v1/incidents/{single['id']}").json()
        timeline = client.get(f"/api/v1/incidents/{single['id']}/timeline").json()
    assert [c["service"] for c in body["root_causes"]] == ["payments", "checkout"]
    assert set(body["root_causes"][0]) == {"service", "score", "reason", "anomalous"}
    assert 0 < body["root_causes"][1]["score"] < body["root_causes"][0]["score"] <= 1
    assert [e["detail"]["top"] for e in timeline if e["kind"] == "rca.ranked"] == ["payments"]
