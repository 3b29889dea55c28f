"""An action its policy approved is announced to the incident's channels without buttons, and
is never an approval request; one waiting for people is a request and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.auth.principal import CLI
from services.api.incidents.models import Incident
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.notifications import service as channels
from services.api.notifications.schemas import ChannelCreate
from services.api.outbox import OutboxMessage
from services.api.remediation import killswitch
from services.api.remediation import service as remediation
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Notification, RemediationRequest, utcnow
from services.core.topics import NOTIFICATIONS, REMEDIATION_REQUESTS
from services.remediate.notify.secretbox import SecretBox, generate_key
from services.remediate.policies import ProposedAction
from tests.factories import anomaly


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    box = SecretBox(generate_key())
    with transaction(factory) as session:
        for name, rules, enabled in [
            ("shop-chat", [{"labels": {"team": "shop"}}], True),
            ("search-chat", [{"labels": {"team": "search"}}], True),
            ("muted", [{}], False),
            ("by-name-only", [], True),
        ]:
            channels.create(
                session=session, actor=CLI, box=box,
                body=ChannelCreate(
                    name=name, kind="webhook", url="https://hooks.example.com/x",
                    secret="hmac-key", rules=rules, enabled=enabled,
                ),
            )  # fmt: skip
        record_anomaly(
            session=session,
            anomaly=anomaly().model_copy(update={"labels": {"team": "shop"}}),
            policy=IncidentPolicy(),
        )
    yield factory
    engine.dispose()


def _proposal(incident_id: str, *, auto: bool, target: str = "checkout") -> ProposedAction:
    return ProposedAction(
        policy="restart-checkout", owner="olivia", incident_id=incident_id,
        action="demo.restart", target=target, params={}, risk="low" if auto else "medium",
        auto_approved=auto, required_approvals=1, approvers=(), ttl=timedelta(minutes=10),
        escalate_to="",
    )  # fmt: skip


def _propose(factory: sessionmaker[Session], *, auto: bool, target: str = "checkout") -> str:
    with transaction(factory) as session:
        incident = session.scalars(select(Incident)).one()
        (row,) = remediation.propose(
            session=session, incident=incident, proposals=[_proposal(incident.id, auto=auto,
            target=target)], requested_by="remediation", link_base="https://vigil.example",
        )  # fmt: skip
        return row.id


def _outbox(factory: sessionmaker[Session], topic: str) -> list[str]:
    with factory() as session:
        return [r.payload for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == topic))]  # fmt: skip


def test_an_auto_approved_action_is_announced_to_matching_channels_only(
    factory: sessionmaker[Session],
) -> None:
    action_id = _propose(factory, auto=True)
    assert _outbox(factory, REMEDIATION_REQUESTS.name) == []  # no request: nothing to decide
    (notice,) = [Notification.model_validate_json(p) for p in _outbox(factory, NOTIFICATIONS.name)]
    assert notice.channel == "shop-chat"  # its label rule matches; disabled and others do not
    assert notice.event_type == "updated" and "remediation" not in notice.payload
    assert notice.payload["title"].endswith("auto-approved: demo.restart on checkout")
    assert "sent to the remediation workers" in notice.payload["explanation"]
    assert action_id in notice.payload["explanation"]
    assert notice.payload["actor"] == "policy:restart-checkout"
    assert notice.payload["labels"] == {"team": "shop"}
    assert notice.payload["link"] == f"https://vigil.example/incidents/{notice.incident_id}"


def test_an_auto_approved_action_held_by_the_kill_switch_says_so(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as session:
        killswitch.set_state(session, engaged=True, reason="freeze", actor=CLI, now=utcnow())
    _propose(factory, auto=True)
    (notice,) = [Notification.model_validate_json(p) for p in _outbox(factory, NOTIFICATIONS.name)]
    assert "held while the remediation kill switch is engaged" in notice.payload["explanation"]


def test_an_action_waiting_for_people_is_a_request_and_not_announced(
    factory: sessionmaker[Session],
) -> None:
    action_id = _propose(factory, auto=False)
    (request,) = [
        RemediationRequest.model_validate_json(p)
        for p in _outbox(factory, REMEDIATION_REQUESTS.name)
    ]
    assert request.id == action_id
    assert _outbox(factory, NOTIFICATIONS.name) == []


def test_a_silenced_incident_gets_no_announcement(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        incident = session.scalars(select(Incident)).one()
        incident.silenced = True
    _propose(factory, auto=True)
    assert _outbox(factory, NOTIFICATIONS.name) == []
