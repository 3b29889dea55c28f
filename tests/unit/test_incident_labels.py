"""Incident changes carry their signals' labels, so channel routing rules on labels match:
the api fills `IncidentEvent.labels` wherever it publishes a change (signals opening and
updating incidents, people acting on them), and remediate's planner routes on them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.auth.principal import Principal
from services.api.auth.roles import Role
from services.api.incidents import service as incidents
from services.api.incidents.inputs import from_anomaly
from services.api.incidents.lifecycle import Command
from services.api.incidents.models import Incident
from services.api.incidents.service import LABEL_SIGNALS, MAX_LABELS, merge_labels
from services.api.incidents.signals import IncidentPolicy, record_anomaly, record_signals
from services.api.outbox import OutboxMessage
from services.core.bus import InMemoryBus
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import (
    Anomaly,
    Event,
    IncidentEvent,
    IncidentEventType,
    Notification,
    RemediationRequest,
    Severity,
)
from services.core.topics import INCIDENTS, NOTIFICATIONS
from services.remediate.notify.incidents import NotificationPlanner
from services.remediate.notify.planning import notifications_for
from services.remediate.notify.routing import RouteRule
from tests.factories import T0, anomaly

RULES = [
    RouteRule(channels=("shop-team",), labels={"team": "shop"}),
    RouteRule(channels=("eu-oncall",), labels={"region": "eu-*"}),
    RouteRule(channels=("search-team",), labels={"team": "search"}),
]


class FixedRules:
    def rules(self) -> list[RouteRule]:
        return list(RULES)


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def _labelled(labels: dict[str, str], **kwargs: object) -> Anomaly:
    return anomaly(**kwargs).model_copy(update={"labels": labels})  # type: ignore[arg-type]


def _published(factory: sessionmaker[Session]) -> list[IncidentEvent]:
    """The incident changes as they go out on the bus (read back from the outbox)."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == INCIDENTS.name)
            .order_by(OutboxMessage.id)
        ).all()
        return [IncidentEvent.model_validate_json(r.payload) for r in rows]


def test_an_opened_incident_is_routed_by_its_signals_labels(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        record_anomaly(
            session=session,
            anomaly=_labelled({"team": "shop", "env": "prod"}),
            policy=IncidentPolicy(),
        )
    (opened,) = _published(factory)
    assert opened.type is IncidentEventType.OPENED
    assert opened.labels == {"team": "shop", "env": "prod"}
    routed = notifications_for(opened, RULES, now=T0)
    assert [n.channel for n in routed] == ["shop-team"]  # not search-team, not eu-oncall
    assert routed[0].payload["labels"] == {"team": "shop", "env": "prod"}


def test_signals_of_one_batch_and_stored_ones_all_contribute_labels(
    factory: sessionmaker[Session],
) -> None:
    first = _labelled({"team": "shop"})
    worse = _labelled(
        {"team": "ignored-later-value", "region": "eu-west"},
        series='errors{service="checkout"}',
        severity=Severity.CRITICAL,
    )
    with transaction(factory) as session:  # one batch: opens, then a worse signal updates
        record_signals(
            session=session, signals=[from_anomaly(first), from_anomaly(worse)],
            policy=IncidentPolicy(),
        )  # fmt: skip
    opened, updated = _published(factory)
    assert opened.labels == {"team": "shop"}
    assert updated.type is IncidentEventType.UPDATED
    assert updated.labels == {"team": "shop", "region": "eu-west"}  # the first value wins
    assert [n.channel for n in notifications_for(updated, RULES, now=T0)] == [
        "shop-team",
        "eu-oncall",
    ]
    # A person's action later: the labels come from the stored signals.
    with transaction(factory) as session:
        incidents.act(
            session=session, incident_id=opened.incident_id, command=Command.ACKNOWLEDGE,
            actor=Principal("pat", Role.RESPONDER),
        )  # fmt: skip
    acknowledged = _published(factory)[-1]
    assert acknowledged.type is IncidentEventType.ACKNOWLEDGED
    assert acknowledged.labels == {"team": "shop", "region": "eu-west"}
    # Resolved by a person, then reopened by a later batch: stored labels plus the new one.
    with transaction(factory) as session:
        incidents.act(
            session=session, incident_id=opened.incident_id, command=Command.RESOLVE,
            actor=Principal("pat", Role.RESPONDER),
        )  # fmt: skip
        record_anomaly(
            session=session,
            anomaly=_labelled({"zone": "b"}, series='saturation{service="checkout"}', minute=1),
            policy=IncidentPolicy(),
        )
    resolved, reopened = _published(factory)[3:]
    assert resolved.type is IncidentEventType.RESOLVED
    assert reopened.type is IncidentEventType.REOPENED
    assert reopened.labels == {"team": "shop", "region": "eu-west", "zone": "b"}


def test_an_approval_request_is_routed_by_its_incidents_labels() -> None:
    opened = IncidentEvent(
        id="i1-opened", type=IncidentEventType.OPENED, incident_id="i1", title="slow",
        service="checkout", severity=Severity.WARNING, status="open", opened_at=T0,
        labels={"team": "search"},
    )  # fmt: skip
    request = RemediationRequest(
        id="a1", incident_id="i1", action="demo.restart", target="checkout", risk="medium"
    )

    async def run() -> list[Notification]:
        bus = InMemoryBus()
        sent: list[Notification] = []

        async def collect(event: Event) -> None:
            sent.append(event)  # type: ignore[arg-type]

        bus.subscribe(NOTIFICATIONS, collect, group="test")
        planner = NotificationPlanner(bus, FixedRules())
        planner.attach(group="remediate")
        await bus.start()
        await planner.handle_incident(opened)
        await planner.handle_request(request)
        await bus.drain()
        await bus.stop()
        return sent

    sent = asyncio.run(run())
    assert [(n.channel, "remediation" in n.payload) for n in sent] == [
        ("search-team", False),  # the incident opened
        ("search-team", True),  # the approval request, with its buttons
    ]
    assert sent[1].payload["labels"] == {"team": "search"}


def test_older_incident_events_without_labels_still_parse() -> None:
    legacy = (
        '{"id": "x", "schema_version": 1, "type": "opened", "incident_id": "i", "title": "t",'
        ' "service": "s", "severity": "error", "status": "open",'
        ' "opened_at": "2026-11-27T05:00:00Z"}'
    )
    event = IncidentEvent.model_validate_json(legacy)
    assert event.labels == {}
    assert notifications_for(event, RULES, now=T0 + timedelta(seconds=1)) == []


def test_labels_are_bounded_and_the_first_value_wins() -> None:
    many = [{f"k{i}": str(i) for i in range(MAX_LABELS + 10)}, {"k0": "later"}]
    merged = merge_labels(many)
    assert len(merged) == MAX_LABELS and merged["k0"] == "0"


def test_an_incident_recorded_before_labels_were_kept_reads_them_from_its_signals(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        record_anomaly(
            session=session, anomaly=_labelled({"team": "shop"}), policy=IncidentPolicy()
        )
    (opened,) = _published(factory)
    with transaction(factory) as session:  # as revision 0008 leaves an older incident
        session.get_one(Incident, opened.incident_id).labels = None
    with transaction(factory) as session:
        record_anomaly(
            session=session,
            anomaly=_labelled(
                {"region": "eu-west"}, series='errors{service="checkout"}',
                severity=Severity.CRITICAL,
            ),
            policy=IncidentPolicy(),
        )  # fmt: skip
    updated = _published(factory)[-1]
    assert updated.type is IncidentEventType.UPDATED
    assert updated.labels == {"team": "shop", "region": "eu-west"}
    with factory() as session:  # kept on the incident from now on
        kept = session.get_one(Incident, opened.incident_id).labels
    assert kept == {"team": "shop", "region": "eu-west"}


def test_only_the_first_signals_labels_are_kept(factory: sessionmaker[Session]) -> None:
    signals = [
        from_anomaly(_labelled({f"k{i}": "v"}, series=f'm{i}{{service="checkout"}}'))
        for i in range(LABEL_SIGNALS + 3)
    ]
    with transaction(factory) as session:
        record_signals(session=session, signals=signals, policy=IncidentPolicy())
    with factory() as session:
        (incident,) = session.scalars(select(Incident)).all()
    assert incident.signal_count == LABEL_SIGNALS + 3
    assert set(incident.labels or {}) == {f"k{i}" for i in range(LABEL_SIGNALS)}
