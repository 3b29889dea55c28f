"""Correlation through the service layer: flapping, silences, alerts, graph, quiet period."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.api.auth.principal import Principal
from services.api.auth.roles import Role
from services.api.consumer import SignalConsumer
from services.api.feed import Sweeper
from services.api.incidents import service
from services.api.incidents.correlation import CorrelationPolicy, ServiceGraph
from services.api.incidents.models import Incident, Signal
from services.api.incidents.quiet import QuietPolicy
from services.api.incidents.signals import (
    IncidentPolicy,
    from_alert,
    from_anomaly,
    record_alert,
    record_anomaly,
    record_signals,
)
from services.api.outbox import OutboxMessage
from services.api.silences import service as silences
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import IncidentEvent
from tests.factories import T0, alert, anomaly
from tests.unit.test_incident_lifecycle import FakeClock

ALICE = Principal("alice", Role.RESPONDER)
FLAPPY = IncidentPolicy(
    quiet=QuietPolicy(
        flap_window=timedelta(minutes=10),
        flap_threshold=4,
        flap_quiet_period=timedelta(minutes=10),
    )
)


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def _events(factory: sessionmaker[Session]) -> list[IncidentEvent]:
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == "incidents")
            .order_by(OutboxMessage.id)
        ).all()
    return [IncidentEvent.model_validate_json(r.payload) for r in rows]


def _incidents(factory: sessionmaker[Session]) -> list[Incident]:
    with factory() as session:
        return list(session.scalars(select(Incident).order_by(Incident.opened_at)))


def test_a_flapping_signal_makes_one_incident_and_few_notifications(
    factory: sessionmaker[Session],
) -> None:
    for minute in range(40):  # fires and recovers every minute for 40 minutes
        status = "firing" if minute % 2 == 0 else "resolved"
        with transaction(factory) as session:
            record_anomaly(session=session, anomaly=anomaly(status, minute=minute), policy=FLAPPY)
    assert len(_incidents(factory)) == 1
    types = [e.type.value for e in _events(factory)]
    # opened, resolved, reopened, then flapping is detected (updated) and nothing more
    assert types == ["opened", "resolved", "reopened", "updated"]
    incident = _incidents(factory)[0]
    assert incident.flapping and incident.status == "open" and incident.recovered_at is not None
    # after a quiet period of 10 minutes without firing, the sweep resolves it, once
    clock = FakeClock(T0 + timedelta(minutes=39 + 9))
    sweeper = Sweeper(factory, FLAPPY.quiet, clock=clock)
    assert asyncio.run(sweeper.sweep_once()) == 0
    clock.advance(minutes=1)
    assert asyncio.run(sweeper.sweep_once()) == 1
    assert asyncio.run(sweeper.sweep_once()) == 0
    assert [e.type.value for e in _events(factory)][-1] == "resolved"
    assert _incidents(factory)[0].status == "resolved"


def test_firing_during_the_quiet_period_keeps_the_incident_open_without_noise(
    factory: sessionmaker[Session],
) -> None:
    policy = IncidentPolicy(quiet=QuietPolicy(quiet_period=timedelta(minutes=5), flap_threshold=9))
    steps = [("firing", 0), ("resolved", 1), ("firing", 3), ("resolved", 4)]
    for status, minute in steps:
        with transaction(factory) as session:
            record_anomaly(session=session, anomaly=anomaly(status, minute=minute), policy=policy)
    assert [e.type.value for e in _events(factory)] == ["opened"]
    clock = FakeClock(T0 + timedelta(minutes=8))
    sweeper = Sweeper(factory, policy.quiet, clock=clock)
    assert asyncio.run(sweeper.sweep_once()) == 0
    clock.advance(minutes=1)
    assert asyncio.run(sweeper.sweep_once()) == 1
    incident = _incidents(factory)[0]
    assert incident.status == "resolved"
    assert incident.resolved_at == T0 + timedelta(minutes=4)  # when it actually recovered


def test_a_silenced_service_notifies_nothing(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        silences.create(
            session=session,
            actor=ALICE,
            kind="maintenance",
            matchers=[{"label": "service", "op": "=", "value": "payments"}],
            starts_at=T0 - timedelta(hours=1),
            ends_at=T0 + timedelta(hours=1),
        )
    for minute, status in enumerate(["firing", "resolved", "firing"]):
        a = anomaly(status, service="payments", series="cpu", minute=minute)
        with transaction(factory) as session:
            record_anomaly(session=session, anomaly=a, policy=IncidentPolicy())
    with transaction(factory) as session:
        record_anomaly(
            session=session, anomaly=anomaly(service="checkout"), policy=IncidentPolicy()
        )
    events = _events(factory)
    payments = [e for e in events if e.service == "payments"]
    assert payments and all(e.silenced for e in payments)  # recorded, marked: not notified
    assert [e.silenced for e in events if e.service == "checkout"] == [False]
    with factory() as session:
        silenced = session.scalars(select(Signal).where(Signal.service == "payments")).all()
        incident = session.scalars(select(Incident).where(Incident.service == "payments")).one()
        kinds = [
            t.detail.get("silenced_by")
            for t in service.timeline(session=session, incident_id=incident.id)
            if t.kind.startswith("anomaly")
        ]  # noqa: E501
    assert all(s.silenced_by for s in silenced) and all(kinds)
    assert incident.silenced


def test_an_unsilenced_signal_makes_a_silenced_incident_notifiable(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        silences.create(
            session=session,
            actor=ALICE,
            kind="silence",
            matchers=[{"label": "metric", "op": "=", "value": "cpu"}],
            starts_at=T0 - timedelta(hours=1),
            ends_at=T0 + timedelta(hours=1),
        )
    for series in ("cpu", "latency"):
        with transaction(factory) as session:
            record_anomaly(session=session, anomaly=anomaly(series=series), policy=IncidentPolicy())
    assert [(e.type.value, e.silenced) for e in _events(factory)] == [
        ("opened", True),
        ("updated", False),
    ]


def test_alerts_dedup_by_fingerprint_and_resolve_their_signal(
    factory: sessionmaker[Session],
) -> None:
    policy = IncidentPolicy()
    for minute in range(5):  # the same alert re-sent every minute with a new event id
        with transaction(factory) as session:
            record_alert(session=session, alert=alert(minute=minute), policy=policy)
    assert [e.type.value for e in _events(factory)] == ["opened"]
    incident = _incidents(factory)[0]
    assert incident.firing == ["alert:alertmanager:fp-1"] and incident.signal_count == 5
    with transaction(factory) as session:
        record_alert(session=session, alert=alert("resolved", minute=6), policy=policy)
    assert [e.type.value for e in _events(factory)] == ["opened", "resolved"]


def test_anomalies_and_alerts_of_one_service_share_an_incident(
    factory: sessionmaker[Session],
) -> None:
    signals = [from_anomaly(anomaly(minute=0)), from_alert(alert(minute=1))]
    with transaction(factory) as session:
        record_signals(session=session, signals=signals, policy=IncidentPolicy())
    (incident,) = _incidents(factory)
    assert len(incident.firing) == 2


def test_dependency_graph_groups_neighbouring_services(factory: sessionmaker[Session]) -> None:
    policy = IncidentPolicy(
        correlation=CorrelationPolicy(
            group_window=timedelta(minutes=5),
            graph=ServiceGraph.from_mapping({"checkout": ["payments"]}),
        )
    )
    batch = [
        anomaly(service="payments", series="db", minute=0),
        anomaly(service="checkout", series="latency", minute=1),
        anomaly(service="search", series="latency", minute=1),
        anomaly(service="checkout", series="errors", minute=30),  # checkout already joined
        anomaly(service="payments", series="cpu", minute=200),  # payments is still open
    ]
    for a in batch:
        with transaction(factory) as session:
            record_anomaly(session=session, anomaly=a, policy=policy)
    incidents = _incidents(factory)
    assert [i.services for i in incidents] == [["payments", "checkout"], ["search"]]
    assert incidents[0].firing == ["cpu", "db", "errors", "latency"]


def test_a_redelivered_batch_changes_nothing(factory: sessionmaker[Session]) -> None:
    consumer = SignalConsumer(factory, IncidentPolicy())
    batch = [anomaly(series=s, minute=i) for i, s in enumerate("abc")]
    batch += [anomaly("resolved", series=s, minute=10 + i) for i, s in enumerate("abc")]
    asyncio.run(consumer.handle_anomalies(batch))
    before = (_events(factory), [(i.id, i.status, i.signal_count) for i in _incidents(factory)])
    asyncio.run(consumer.handle_anomalies(batch))  # the whole batch again
    asyncio.run(consumer.handle_anomalies(batch[2:4]))  # and part of it
    after = (_events(factory), [(i.id, i.status, i.signal_count) for i in _incidents(factory)])
    assert before == after
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Signal)) == 6


def test_a_batch_gives_the_same_result_as_one_by_one(sqlite_url: str, tmp_path: object) -> None:
    import migrations

    one_url = sqlite_url.replace("vigil-test.db", "one.db")
    migrations.upgrade(one_url)
    stream = []
    for minute in range(30):
        stream.append(anomaly(service=f"svc{minute % 3}", series=f"s{minute % 5}", minute=minute))
        stream.append(
            anomaly(
                "resolved", service=f"svc{minute % 3}", series=f"s{minute % 5}", minute=minute + 0.5
            )
        )
    results = []
    for url, batches in ((sqlite_url, [stream]), (one_url, [[a] for a in stream])):
        engine = make_engine(url)
        factory = make_session_factory(engine)
        for batch in batches:
            with transaction(factory) as session:
                record_signals(
                    session=session,
                    signals=[from_anomaly(a) for a in batch],
                    policy=IncidentPolicy(),
                )
        results.append(
            (
                [(e.type, e.service, e.status) for e in _events(factory)],
                [(i.service, i.status, i.signal_count, i.firing) for i in _incidents(factory)],
            )
        )
        engine.dispose()
    assert results[0] == results[1]


def test_dependencies_learned_from_traces_group_services(factory: sessionmaker[Session]) -> None:
    from services.api.incidents import topology
    from services.core.events import TopologyEdge, TopologySnapshot

    def snapshot(at_minute: int, *edges: tuple[str, str]) -> TopologySnapshot:
        at = T0 + timedelta(minutes=at_minute)
        return TopologySnapshot(
            id=f"topo-{at_minute}",
            at=at,
            edges=[
                TopologyEdge(caller=a, callee=b, calls=10, errors=0, first_seen=at, last_seen=at)
                for a, b in edges
            ],
        )

    with transaction(factory) as session:
        topology.store(session, [snapshot(5, ("checkout", "payments"))])
        # an older snapshot arriving late, and a redelivery, change nothing
        assert topology.store(session, [snapshot(1), snapshot(5, ("checkout", "payments"))]) == 0
    for a in (anomaly(service="payments", series="db"), anomaly(service="checkout", minute=1)):
        with transaction(factory) as session:
            record_anomaly(session=session, anomaly=a, policy=IncidentPolicy())
    assert [i.services for i in _incidents(factory)] == [["payments", "checkout"]]
