"""Model management through the API: records, shadow candidates, comparison, promote, rollback.

Detect's reports arrive through `ModelConsumer` (the api's bus handler); every change the
admin makes is audited and puts the whole desired state on the outbox for `models.control`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import migrations
from services.api.app import create_app
from services.api.audit.models import AuditRecord
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.learning_models.consumer import ModelConsumer
from services.api.outbox import OutboxMessage
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Anomaly, Feedback, ModelControl, ShadowReport
from services.core.topics import FEEDBACK, MODELS_CONTROL
from tests.factories import anomaly, make_key, model_report

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Api:
    client: TestClient
    factory: sessionmaker[Session]
    admin: dict[str, str]
    viewer: dict[str, str]
    responder: dict[str, str]

    def controls(self) -> list[ModelControl]:
        with self.factory() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == MODELS_CONTROL.name)
                .order_by(OutboxMessage.id)
            ).all()
        return [ModelControl.model_validate_json(r.payload) for r in rows]

    def audit(self) -> list[str]:
        with self.factory() as session:
            rows = session.scalars(select(AuditRecord).order_by(AuditRecord.id)).all()
        return [r.action for r in rows if r.action.startswith("models.")]


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path}/models.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    app = create_app(factory)
    headers = {
        role: {"Authorization": f"Bearer {make_key(factory, role)}"}
        for role in ("admin", "viewer", "responder")
    }
    with TestClient(app) as client:
        yield Api(client, factory, headers["admin"], headers["viewer"], headers["responder"])
    engine.dispose()


def _shadow_report(run: str, source: str, points: int, **counts: int) -> ShadowReport:
    firing = anomaly(series='cpu{service="a"}', service="a")
    shadowed = firing.model_copy(update={"id": f"shadow-{source}-{points}"})
    return ShadowReport(
        shadow_run=run,
        source=source,
        live_version=0,
        shadow_version=1,
        points=points,
        live_firings=counts.get("live_firings", 0),
        shadow_firings=counts.get("shadow_firings", 0),
        both_firing_points=counts.get("both", 0),
        live_only_points=counts.get("live_only", 0),
        shadow_only_points=counts.get("shadow_only", 0),
        firings=[shadowed],
        at=T0 + timedelta(seconds=points),
    )


def test_a_candidate_runs_in_shadow_and_every_worker_is_told(api: Api) -> None:
    body = {"params": {"fire_threshold": 0.95, "fire_after": 3}, "comment": "quieter"}
    created = api.client.post("/api/v1/models/candidates", json=body, headers=api.admin)
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "running" and run["candidate_version"] == 1
    assert run["live_version"] == 0
    versions = api.client.get("/api/v1/models/versions", headers=api.viewer).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "candidate"), (0, "live")]
    assert versions[0]["params"]["fire_after"] == 3
    (control,) = api.controls()
    assert control.live.version == 0 and control.shadow is not None
    assert control.shadow.version == 1 and control.shadow.params.fire_threshold == 0.95
    assert control.shadow_run == run["id"]
    assert api.audit() == ["models.shadow_start"]


def test_only_one_shadow_runs_at_a_time(api: Api) -> None:
    first = api.client.post("/api/v1/models/candidates", json={}, headers=api.admin).json()
    again = api.client.post("/api/v1/models/candidates", json={}, headers=api.admin)
    assert again.status_code == 409 and first["id"] in again.text


@pytest.mark.parametrize(
    "body",
    [
        {"params": {"fire_threshold": 2}},
        {"params": {"fire_after": 0}},
        {"params": {"no_such_knob": 1}},
        {"unexpected": True},
        {"params": "fast"},
    ],
)
def test_an_invalid_candidate_is_a_422_naming_the_field(api: Api, body: dict[str, Any]) -> None:
    response = api.client.post("/api/v1/models/candidates", json=body, headers=api.admin)
    assert response.status_code == 422
    assert api.controls() == []


def test_only_admins_change_models(api: Api) -> None:
    response = api.client.post("/api/v1/models/candidates", json={}, headers=api.responder)
    assert response.status_code == 403
    assert api.client.post("/api/v1/models/rollback", headers=api.viewer).status_code == 403


def test_the_comparison_sums_workers_and_records_shadow_anomalies_without_incidents(
    api: Api,
) -> None:
    run = api.client.post("/api/v1/models/candidates", json={}, headers=api.admin).json()["id"]
    consumer = ModelConsumer(api.factory)
    reports = [
        _shadow_report(run, "w1", 100, live_firings=2, shadow_firings=1, both=8, live_only=2),
        _shadow_report(run, "w1", 50, live_firings=1),  # older totals of w1: ignored
        _shadow_report(run, "w2", 40, shadow_firings=1, both=2, shadow_only=1),
        _shadow_report("no-such-run", "w3", 10, live_firings=5),
    ]
    asyncio.run(consumer.handle_shadow(reports))
    found = api.client.get(f"/api/v1/models/candidates/{run}/comparison", headers=api.viewer)
    assert found.status_code == 200, found.text
    comparison = found.json()
    assert comparison["workers"] == 2 and comparison["points"] == 140
    assert comparison["live_firings"] == 2 and comparison["shadow_firings"] == 2
    assert comparison["agreement"] == round(10 / 13, 4)
    assert comparison["shadow_anomalies"] == 3  # one per report of a known run, stored once
    assert api.client.get("/api/v1/incidents", headers=api.viewer).json()["items"] == []


def test_promote_then_roll_back(api: Api) -> None:
    body = {"params": {"fire_after": 4}}
    run = api.client.post("/api/v1/models/candidates", json=body, headers=api.admin).json()["id"]
    promoted = api.client.post(f"/api/v1/models/candidates/{run}/promote", headers=api.admin)
    assert promoted.status_code == 200 and promoted.json()["status"] == "promoted"
    control = api.controls()[-1]
    assert control.live.version == 1 and control.live.params.fire_after == 4
    assert control.shadow is None and control.shadow_run is None
    again = api.client.post(f"/api/v1/models/candidates/{run}/promote", headers=api.admin)
    assert again.status_code == 409

    rolled = api.client.post("/api/v1/models/rollback", json={}, headers=api.admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 0 and rolled.json()["status"] == "live"
    assert api.controls()[-1].live.version == 0
    statuses = {
        v["version"]: v["status"]
        for v in api.client.get("/api/v1/models/versions", headers=api.viewer).json()
    }
    assert statuses == {0: "live", 1: "rolled_back"}
    # Nothing was live before version 0: a second rollback has nowhere to go.
    assert api.client.post("/api/v1/models/rollback", headers=api.admin).status_code == 409
    # An explicit version works, even one rolled back from.
    back = api.client.post("/api/v1/models/rollback", json={"to_version": 1}, headers=api.admin)
    assert back.status_code == 200 and api.controls()[-1].live.version == 1
    missing = api.client.post("/api/v1/models/rollback", json={"to_version": 9}, headers=api.admin)
    assert missing.status_code == 404
    assert api.audit() == [
        "models.shadow_start",
        "models.promote",
        "models.rollback",
        "models.rollback",
    ]


def test_stopping_a_shadow_rejects_the_candidate(api: Api) -> None:
    run = api.client.post("/api/v1/models/candidates", json={}, headers=api.admin).json()["id"]
    stopped = api.client.post(f"/api/v1/models/candidates/{run}/stop", headers=api.admin)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    control = api.controls()[-1]
    assert control.live.version == 0 and control.shadow is None
    versions = api.client.get("/api/v1/models/versions", headers=api.viewer).json()
    assert versions[0]["status"] == "rejected"
    assert api.client.get("/api/v1/models/candidates/nope", headers=api.viewer).status_code == 404


def test_model_records_are_upserted_from_reports_and_served(api: Api) -> None:
    consumer = ModelConsumer(api.factory)
    newer = model_report('cpu{service="a"}', version=2, points=300)
    older = model_report('cpu{service="a"}', version=1, points=200)
    other = model_report('cpu{service="b"}', points=50)
    asyncio.run(consumer.handle_reports([newer, older, other]))
    page = api.client.get("/api/v1/models", params={"service": "a"}, headers=api.viewer).json()
    assert page["total"] == 1
    (record,) = page["items"]
    assert record["version"] == 2 and record["points"] == 300
    assert record["model_type"] == "FallbackDetector" and record["checkpoint_at"]
    one = api.client.get(f"/api/v1/models/{record['id']}", headers=api.viewer)
    assert one.status_code == 200 and one.json()["series"] == 'cpu{service="a"}'
    assert api.client.get("/api/v1/models/unknown", headers=api.viewer).status_code == 404
    assert api.client.get("/api/v1/models", headers=api.viewer).json()["total"] == 2


def test_feedback_carries_the_incidents_signals_for_the_detectors(api: Api) -> None:
    firing = anomaly(series='cpu{service="checkout"}')
    resolved = anomaly("resolved", series='cpu{service="checkout"}', minute=4)
    with transaction(api.factory) as session:
        for event in (firing, resolved):
            record_anomaly(session=session, anomaly=event, policy=IncidentPolicy())
    incident = api.client.get("/api/v1/incidents", headers=api.viewer).json()["items"][0]
    given = api.client.post(
        f"/api/v1/incidents/{incident['id']}/feedback",
        json={"label": "false_positive"},
        headers=api.responder,
    )
    assert given.status_code == 201, given.text
    with api.factory() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == FEEDBACK.name)
        ).one()
    event = Feedback.model_validate_json(row.payload)
    (signal,) = event.signals
    assert signal.series == 'cpu{service="checkout"}' and signal.tenant == "default"
    assert signal.fired_at == firing.timestamp and signal.resolved_at == resolved.timestamp
    assert firing.explanation is not None
    assert (signal.observed, signal.lower, signal.upper) == (
        firing.explanation.observed,
        firing.explanation.lower,
        firing.explanation.upper,
    )
    # Old consumers still read it: the fields they knew are unchanged.
    assert json.loads(row.payload)["incident_id"] == incident["id"]
    assert isinstance(Anomaly.model_validate(firing.model_dump()), Anomaly)
