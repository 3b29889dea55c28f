from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.incidents import service
from services.api.incidents.correlation import CorrelationPolicy
from services.core.db import make_engine, make_session_factory, transaction
from tests.factories import anomaly


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        for i in range(7):
            service.record_anomaly(
                session=session,
                anomaly=anomaly(service=f"svc{i}", series=f"s{i}", minute=i),
                policy=CorrelationPolicy(),
            )
        service.record_anomaly(
            session=session,
            anomaly=anomaly("resolved", service="svc0", series="s0", minute=30),
            policy=CorrelationPolicy(),
        )
    with TestClient(create_app(factory)) as test_client:
        yield test_client
    engine.dispose()


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


def test_filters_by_status_and_service(client: TestClient) -> None:
    resolved = client.get("/api/v1/incidents", params={"status": "resolved"}).json()["items"]
    assert [i["service"] for i in resolved] == ["svc0"]
    one = client.get("/api/v1/incidents", params={"service": "svc3"}).json()["items"]
    assert len(one) == 1 and one[0]["status"] == "open"


def test_get_and_timeline_of_an_incident(client: TestClient) -> None:
    item = client.get("/api/v1/incidents", params={"service": "svc0"}).json()["items"][0]
    got = client.get(f"/api/v1/incidents/{item['id']}")
    assert got.status_code == 200 and got.json()["status"] == "resolved"
    kinds = [e["kind"] for e in client.get(f"/api/v1/incidents/{item['id']}/timeline").json()]
    assert kinds == ["anomaly.firing", "incident.opened", "anomaly.resolved", "incident.resolved"]


def test_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/incidents/nope").status_code == 404
    assert client.get("/api/v1/incidents/nope/timeline").status_code == 404


def test_bad_parameters_are_4xx_not_500(client: TestClient) -> None:
    assert client.get("/api/v1/incidents", params={"cursor": "%%%"}).status_code == 400
    assert client.get("/api/v1/incidents", params={"cursor": "Zm9v"}).status_code == 400
    assert client.get("/api/v1/incidents", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/incidents", params={"status": "bogus"}).status_code == 422


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True
