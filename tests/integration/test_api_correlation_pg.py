"""Correlation on PostgreSQL (row locks, COPY, window queries) gives exactly what it gives on
SQLite, in batches or one signal at a time, and a redelivery changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

import migrations
from services.api.auth.principal import CLI
from services.api.incidents.inputs import IncidentPolicy, from_alert, from_anomaly
from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.incidents.signals import record_signals
from services.api.outbox import OutboxMessage
from services.api.silences import service as silences
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import IncidentEvent
from tests.factories import T0, alert, anomaly


def _stream() -> list[Any]:
    signals: list[Any] = []
    for minute in range(12):  # checkout flaps
        status = "firing" if minute % 2 == 0 else "resolved"
        signals.append(from_anomaly(anomaly(status, minute=minute)))
    for i in range(5):  # a burst on payments, then recovery
        signals.append(from_anomaly(anomaly(service="payments", series=f"p{i}", minute=i)))
    for i in range(5):
        signals.append(
            from_anomaly(anomaly("resolved", service="payments", series=f"p{i}", minute=20 + i))
        )
    signals.append(from_anomaly(anomaly(service="payments", series="p0", minute=30)))  # reopen
    signals += [from_alert(alert(service="search", minute=m, event_id=f"r{m}")) for m in range(3)]
    signals.append(from_anomaly(anomaly(service="batch", series="b", minute=1)))  # silenced
    return signals


def _outcome(url: str, batch: int) -> tuple[Any, ...]:
    migrations.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        silences.create(
            session=session,
            actor=CLI,
            kind="maintenance",
            matchers=[{"label": "service", "op": "=", "value": "batch"}],
            starts_at=T0 - timedelta(hours=1),
            ends_at=T0 + timedelta(hours=1),
        )
    stream = _stream()
    for _ in range(2):  # the second pass is a redelivery of everything
        for i in range(0, len(stream), batch):
            with transaction(factory) as session:
                record_signals(
                    session=session, signals=stream[i : i + batch], policy=IncidentPolicy()
                )
    with factory() as session:
        incidents = session.scalars(select(Incident).order_by(Incident.service)).all()
        result = (
            [
                (i.service, i.status, i.signal_count, i.firing, i.flapping, i.silenced)
                for i in incidents
            ],
            [
                (e.type.value, e.service, e.silenced)
                for e in (
                    IncidentEvent.model_validate_json(p)
                    for p in session.scalars(
                        select(OutboxMessage.payload).order_by(OutboxMessage.id)
                    )
                )
            ],
            len(session.scalars(select(Signal.id)).all()),
            [t.kind for t in session.scalars(select(TimelineEntry).order_by(TimelineEntry.id))],
        )
    engine.dispose()
    return result


def test_postgresql_and_sqlite_agree_batched_or_not(pg_url: str, tmp_path: Path) -> None:
    on_pg = _outcome(pg_url, batch=50)
    one_by_one = _outcome(f"sqlite:///{tmp_path}/one.db", batch=1)
    assert on_pg == one_by_one
    services = {row[0]: row for row in on_pg[0]}
    assert services["checkout"][4] is True  # flapping
    assert services["batch"][5] is True  # silenced
    assert services["payments"][1] == "open"  # reopened
    assert on_pg[2] == len(_stream())  # every signal once
