"""GET /api/v1/topology: every traces worker's latest snapshot merged, stale edges dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.incidents import topology
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import TopologyEdge, TopologySnapshot
from tests.factories import make_key

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _edge(caller: str, callee: str, calls: int, errors: int, age_min: int) -> TopologyEdge:
    seen = T0 - timedelta(minutes=age_min)
    return TopologyEdge(
        caller=caller, callee=callee, calls=calls, errors=errors, first_seen=seen, last_seen=seen
    )


def _snapshot(source: str, *edges: TopologyEdge, tenant: str = "default") -> TopologySnapshot:
    return TopologySnapshot(
        id=f"{tenant}-{source}", tenant=tenant, source=source, at=T0, edges=list(edges)
    )


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    engine = make_engine(sqlite_url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    with transaction(factory) as session:
        topology.store(
            session,
            [
                _snapshot(
                    "traces-0",
                    _edge("frontend", "checkout", 100, 2, age_min=1),
                    _edge("checkout", "payments", 40, 1, age_min=5),
                    _edge("frontend", "legacy", 9, 0, age_min=90),  # older than max age
                ),
                _snapshot(
                    "traces-1",
                    _edge("frontend", "checkout", 50, 3, age_min=0),
                    _edge("checkout", "db", 7, 0, age_min=2),
                ),
                _snapshot("traces-0", _edge("other", "tenant", 1, 0, 0), tenant="acme"),
            ],
        )
    key = make_key(factory, "viewer")
    app = create_app(factory, topology_max_age=timedelta(hours=1))
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c
    engine.dispose()


def test_snapshots_of_two_sources_are_merged_and_old_edges_dropped(client: TestClient) -> None:
    response = client.get("/api/v1/topology")
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"] == "default"
    assert body["services"] == ["checkout", "db", "frontend", "payments"]
    edges = {(e["caller"], e["callee"]): e for e in body["edges"]}
    assert list(edges) == [("checkout", "db"), ("checkout", "payments"), ("frontend", "checkout")]
    merged = edges[("frontend", "checkout")]
    assert (merged["calls"], merged["errors"]) == (150, 5)
    assert datetime.fromisoformat(merged["last_seen"]) == T0  # the newest of the two sources


def test_the_graph_is_per_tenant(client: TestClient) -> None:
    body = client.get("/api/v1/topology", params={"tenant": "acme"}).json()
    assert body["services"] == ["other", "tenant"]
    assert client.get("/api/v1/topology", params={"tenant": "nobody"}).json()["edges"] == []


def test_the_schema_documents_an_example(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["TopologyRead"]
    assert schema["examples"][0]["edges"][0]["caller"] == "checkout"
