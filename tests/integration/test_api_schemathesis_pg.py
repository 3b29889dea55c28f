"""The schemathesis run again, on PostgreSQL, which is stricter than SQLite (lengths, NULs)."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

import migrations
from services.api.app import create_app
from services.api.incidents.signals import IncidentPolicy, record_alert, record_anomaly
from services.core.db import make_engine, make_session_factory, transaction
from tests.factories import alert, anomaly, make_key


def test_generated_requests_never_get_a_server_error_on_postgresql(pg_url: str) -> None:
    migrations.upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        record_anomaly(session=session, anomaly=anomaly(), policy=IncidentPolicy())
        record_alert(session=session, alert=alert(service="payments"), policy=IncidentPolicy())
    auth = {"Authorization": f"Bearer {make_key(factory, 'admin', 'schemathesis')}"}
    app = create_app(factory)
    app.state.feed.broadcaster.close()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=auth)
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert operations >= 20
    # PostgreSQL refuses NUL characters in text columns: a client error (422), never a 500.
    from fastapi.testclient import TestClient

    with TestClient(app, headers=auth) as client:
        incident = client.get("/api/v1/incidents").json()["items"][0]["id"]
        base = f"/api/v1/incidents/{incident}"
        nul = "a\x00b"
        answers = [
            client.post(f"{base}/comments", json={"text": nul}),
            client.post(f"{base}/assign", json={"assignee": nul}),
            client.post(f"{base}/feedback", json={"label": "true_positive", "comment": nul}),
            client.post("/api/v1/keys", json={"name": nul, "role": "viewer"}),
        ]
        assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
        assert answers[2].status_code == 422
    engine.dispose()
