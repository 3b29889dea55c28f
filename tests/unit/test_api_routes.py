"""The REST API over SQLite: listing, filters, lifecycle actions, silences, feedback, audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.outbox import OutboxMessage
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Feedback
from tests.factories import anomaly, make_key


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        for i in range(7):
            record_anomaly(
                session=session,
                anomaly=anomaly(service=f"svc{i}", series=f"s{i}", minute=i),
                policy=IncidentPolicy(),
            )
        record_anomaly(
            session=session,
            anomaly=anomaly("resolved", service="svc0", series="s0", minute=30),
            policy=IncidentPolicy(),
        )
    yield factory
    engine.dispose()


@pytest.fixture
def client(factory: sessionmaker[Session]) -> Iterator[TestClient]:
    key = make_key(factory, "admin", "root")
    with TestClient(create_app(factory), headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def _first(client: TestClient, service: str) -> dict[str, Any]:
    return dict(client.get("/api/v1/incidents", params={"service": service}).json()["items"][0])


def test_list_pages_through_every_incident_newest_first(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/incidents", params=params).json()
        seen += [item["service"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"svc{i}" for i in range(6, -1, -1)]


def test_ascending_sort_pages_oldest_first(client: TestClient) -> None:
    first = client.get("/api/v1/incidents", params={"sort": "opened_at", "limit": 4}).json()
    rest = client.get(
        "/api/v1/incidents",
        params={"sort": "opened_at", "limit": 4, "cursor": first["next_cursor"]},
    ).json()
    services = [i["service"] for i in first["items"] + rest["items"]]
    assert services == [f"svc{i}" for i in range(7)] and rest["next_cursor"] is None


def test_a_cursor_from_another_sort_is_rejected(client: TestClient) -> None:
    cursor = client.get("/api/v1/incidents", params={"limit": 1}).json()["next_cursor"]
    answer = client.get("/api/v1/incidents", params={"cursor": cursor, "sort": "updated_at"})
    assert answer.status_code == 400


def test_filters_by_status_service_severity_and_assignee(client: TestClient) -> None:
    resolved = client.get("/api/v1/incidents", params={"status": "resolved"}).json()["items"]
    assert [i["service"] for i in resolved] == ["svc0"]
    both = client.get("/api/v1/incidents", params=[("status", "open"), ("status", "resolved")])
    assert len(both.json()["items"]) == 7
    one = client.get("/api/v1/incidents", params={"service": "svc3"}).json()["items"]
    assert len(one) == 1 and one[0]["status"] == "open"
    assert client.get("/api/v1/incidents", params={"severity": "critical"}).json()["items"] == []
    incident = _first(client, "svc2")
    client.post(f"/api/v1/incidents/{incident['id']}/assign", json={"assignee": "bob"})
    mine = client.get("/api/v1/incidents", params={"assignee": "bob"}).json()["items"]
    assert [i["id"] for i in mine] == [incident["id"]]


def test_get_and_timeline_of_an_incident(client: TestClient) -> None:
    item = _first(client, "svc0")
    got = client.get(f"/api/v1/incidents/{item['id']}")
    assert got.status_code == 200 and got.json()["status"] == "resolved"
    kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{item['id']}/timeline").json()]
    assert kinds == ["anomaly.firing", "incident.opened", "anomaly.resolved", "incident.resolved"]


def test_acknowledge_mitigate_comment_resolve_over_http(client: TestClient) -> None:
    incident_id = _first(client, "svc1")["id"]
    base = f"/api/v1/incidents/{incident_id}"
    assert client.post(f"{base}/acknowledge").json()["status"] == "acknowledged"
    assert client.post(f"{base}/acknowledge").status_code == 200  # idempotent
    assert client.post(f"{base}/mitigate", json={"note": "rolling back"}).json()["status"] == (
        "mitigating"
    )
    assert client.post(f"{base}/acknowledge").status_code == 409  # backwards
    comment = client.post(f"{base}/comments", json={"text": "rollback done"})
    assert comment.status_code == 201 and comment.json()["kind"] == "comment"
    patched = client.patch(base, json={"severity": "critical"})
    assert patched.json()["severity"] == "critical"
    resolved = client.post(f"{base}/resolve").json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    kinds = [e["kind"] for e in client.get(f"{base}/timeline").json()]
    assert kinds[-5:] == [
        "incident.acknowledged",
        "incident.mitigating",
        "comment",
        "incident.updated",
        "incident.resolved",
    ]
    audit = client.get("/api/v1/audit", params={"target_id": incident_id}).json()["items"]
    assert [a["action"] for a in audit][:5] == [
        "incident.resolve",
        "incident.update",
        "incident.comment",
        "incident.mitigate",
        "incident.acknowledge",
    ]
    assert {a["actor"] for a in audit[:5]} == {"root"}


def test_feedback_is_stored_timelined_and_published(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    incident_id = _first(client, "svc4")["id"]
    body = {"label": "root_cause", "comment": "pool exhausted", "series": ["s4"]}
    created = client.post(f"/api/v1/incidents/{incident_id}/feedback", json=body)
    assert created.status_code == 201 and created.json()["author"] == "root"
    listed = client.get(f"/api/v1/incidents/{incident_id}/feedback").json()
    assert [f["label"] for f in listed] == ["root_cause"]
    with factory() as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "feedback")).one()
    event = Feedback.model_validate_json(row.payload)
    assert (event.incident_id, event.label.value, event.series) == (
        incident_id,
        "root_cause",
        ["s4"],
    )
    bad = client.post(f"/api/v1/incidents/{incident_id}/feedback", json={"label": "meh"})
    assert bad.status_code == 422


def test_silences_crud(client: TestClient) -> None:
    body = {
        "kind": "maintenance",
        "matchers": [{"label": "service", "op": "=~", "value": "svc[0-3]"}],
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2099-01-01T00:00:00Z",
        "comment": "drill",
    }
    created = client.post("/api/v1/silences", json=body)
    assert created.status_code == 201 and created.json()["active"] is True
    silence_id = created.json()["id"]
    assert client.get(f"/api/v1/silences/{silence_id}").json()["comment"] == "drill"
    assert [
        s["id"] for s in client.get("/api/v1/silences", params={"active": True}).json()["items"]
    ] == [silence_id]  # noqa: E501
    expired = client.patch(
        f"/api/v1/silences/{silence_id}", json={"ends_at": "2026-01-02T00:00:00Z"}
    )
    assert expired.json()["active"] is False
    assert client.delete(f"/api/v1/silences/{silence_id}").status_code == 204
    assert client.get(f"/api/v1/silences/{silence_id}").status_code == 404
    bad_regex = {**body, "matchers": [{"label": "service", "op": "=~", "value": "("}]}
    assert client.post("/api/v1/silences", json=bad_regex).status_code == 422
    backwards = {**body, "ends_at": "2025-01-01T00:00:00Z"}
    assert client.post("/api/v1/silences", json=backwards).status_code == 422
    actions = [
        a["action"]
        for a in client.get("/api/v1/audit", params={"target_type": "silence"}).json()["items"]
    ]  # noqa: E501
    assert actions == ["silence.delete", "silence.update", "silence.create"]


def test_unknown_things_are_404(client: TestClient) -> None:
    assert client.get("/api/v1/incidents/nope").status_code == 404
    assert client.get("/api/v1/incidents/nope/timeline").status_code == 404
    assert client.post("/api/v1/incidents/nope/acknowledge").status_code == 404
    assert client.get("/api/v1/incidents/nope/feedback").status_code == 404
    assert client.delete("/api/v1/keys/nope").status_code == 404


def test_bad_parameters_are_4xx_not_500(client: TestClient) -> None:
    assert client.get("/api/v1/incidents", params={"cursor": "%%%"}).status_code == 400
    assert client.get("/api/v1/incidents", params={"cursor": "Zm9v"}).status_code == 400
    assert client.get("/api/v1/incidents", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/incidents", params={"status": "bogus"}).status_code == 422
    assert client.get("/api/v1/audit", params={"cursor": "x"}).status_code == 400


def test_keys_are_created_shown_once_listed_and_revoked(client: TestClient) -> None:
    created = client.post("/api/v1/keys", json={"name": "ci", "role": "viewer"}).json()
    key = created["key"]
    assert key.startswith("vgl_")
    listed = client.get("/api/v1/keys").json()
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    me = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"}).json()
    assert me == {"name": "ci", "role": "viewer", "key_id": created["id"]}
    assert client.delete(f"/api/v1/keys/{created['id']}").json()["revoked_at"] is not None
    after = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})
    assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"


def test_health_and_readiness_need_no_key(factory: sessionmaker[Session]) -> None:
    with TestClient(create_app(factory)) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] is True
        assert anonymous.get("/openapi.json").status_code == 200
        assert anonymous.get("/docs").status_code == 200
        assert anonymous.get("/api/v1/incidents").status_code == 401
