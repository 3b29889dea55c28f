"""Authorisation matrix: every /api/v1 endpoint against every role, and without a valid key.

The table below is the specification: a route missing from it fails the test, so a new
endpoint cannot ship without deciding who may call it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.auth import service as keys
from services.api.auth.principal import CLI
from services.api.auth.roles import Role, allows
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.learning_models.service import record_reports
from services.core.db import make_engine, make_session_factory, transaction
from tests.factories import anomaly, make_key, model_report

V, R, P, A = Role.VIEWER, Role.RESPONDER, Role.APPROVER, Role.ADMIN

SILENCE = {
    "matchers": [{"label": "service", "op": "=", "value": "x"}],
    "ends_at": "2099-01-01T00:00:00Z",
}

# A channel whose test message goes nowhere reachable: the test endpoint answers at once.
CHANNEL = {
    "name": "matrix-hook",
    "kind": "webhook",
    "url": "http://169.254.169.254/x",
    "secret": "s",
}

# Authenticated by a Slack request signature instead of an API key (tests/unit/test_slack_*).
SIGNED = {("POST", "/api/v1/integrations/slack/interactions")}

POLICY = {"actions": [{"action": "demo.restart", "target": "{service}"}]}

# (method, path template) -> (minimum role, JSON body or None)
MATRIX: dict[tuple[str, str], tuple[Role, Any]] = {
    ("GET", "/api/v1/incidents"): (V, None),
    ("GET", "/api/v1/incidents/stream"): (V, None),
    ("GET", "/api/v1/incidents/{incident_id}"): (V, None),
    ("PATCH", "/api/v1/incidents/{incident_id}"): (R, {"severity": "error"}),
    ("GET", "/api/v1/incidents/{incident_id}/timeline"): (V, None),
    ("POST", "/api/v1/incidents/{incident_id}/acknowledge"): (R, {}),
    ("POST", "/api/v1/incidents/{incident_id}/mitigate"): (R, {}),
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): (R, {}),
    ("POST", "/api/v1/incidents/{incident_id}/reopen"): (R, {}),
    ("POST", "/api/v1/incidents/{incident_id}/assign"): (R, {"assignee": "bob"}),
    ("POST", "/api/v1/incidents/{incident_id}/comments"): (R, {"text": "hi"}),
    ("POST", "/api/v1/incidents/{incident_id}/feedback"): (R, {"label": "true_positive"}),
    ("GET", "/api/v1/incidents/{incident_id}/feedback"): (V, None),
    ("GET", "/api/v1/silences"): (V, None),
    ("POST", "/api/v1/silences"): (R, SILENCE),
    ("GET", "/api/v1/silences/{silence_id}"): (V, None),
    ("PATCH", "/api/v1/silences/{silence_id}"): (R, {"comment": "x"}),
    ("DELETE", "/api/v1/silences/{silence_id}"): (R, None),
    ("GET", "/api/v1/topology"): (V, None),
    ("GET", "/api/v1/audit"): (A, None),
    ("GET", "/api/v1/whoami"): (V, None),
    ("GET", "/api/v1/keys"): (A, None),
    ("POST", "/api/v1/keys"): (A, {"name": "new", "role": "viewer"}),
    ("DELETE", "/api/v1/keys/{key_id}"): (A, None),
    ("GET", "/api/v1/channels"): (V, None),
    ("POST", "/api/v1/channels"): (A, CHANNEL),
    ("GET", "/api/v1/channels/{channel_id}"): (V, None),
    ("PATCH", "/api/v1/channels/{channel_id}"): (A, {"enabled": True}),
    ("DELETE", "/api/v1/channels/{channel_id}"): (A, None),
    ("POST", "/api/v1/channels/{channel_id}/test"): (A, None),
    ("GET", "/api/v1/incidents/{incident_id}/deliveries"): (V, None),
    ("GET", "/api/v1/policies"): (V, None),
    ("GET", "/api/v1/policies/{name}"): (V, None),
    ("PUT", "/api/v1/policies/{name}"): (A, POLICY),
    ("DELETE", "/api/v1/policies/{name}"): (A, None),
    ("POST", "/api/v1/policies/dry-run"): (V, {"incident_id": "{incident_id}"}),
    ("GET", "/api/v1/actions"): (V, None),
    ("POST", "/api/v1/actions"): (R, {"incident_id": "{incident_id}", "policy": "matrix-policy"}),
    ("GET", "/api/v1/actions/{action_id}"): (V, None),
    ("POST", "/api/v1/actions/{action_id}/approve"): (P, {}),
    ("POST", "/api/v1/actions/{action_id}/reject"): (P, {}),
    ("GET", "/api/v1/actions/{action_id}/preview"): (V, None),
    ("GET", "/api/v1/remediation/kill-switch"): (V, None),
    ("PUT", "/api/v1/remediation/kill-switch"): (A, {"engaged": False}),
    ("GET", "/api/v1/remediation/success-rates"): (V, None),
    ("GET", "/api/v1/models"): (V, None),
    ("GET", "/api/v1/models/{record_id}"): (V, None),
    ("GET", "/api/v1/models/versions"): (V, None),
    ("GET", "/api/v1/models/candidates"): (V, None),
    ("POST", "/api/v1/models/candidates"): (A, {"params": {"fire_after": 3}}),
    ("GET", "/api/v1/models/candidates/{run_id}"): (V, None),
    ("GET", "/api/v1/models/candidates/{run_id}/comparison"): (V, None),
    ("POST", "/api/v1/models/candidates/{run_id}/promote"): (A, {}),
    ("POST", "/api/v1/models/candidates/{run_id}/stop"): (A, {}),
    ("POST", "/api/v1/models/rollback"): (A, {}),
    ("GET", "/api/v1/predictions"): (V, None),
    ("GET", "/api/v1/predictions/{prediction_id}"): (V, None),
    ("GET", "/api/v1/scaling/{service_name}?target_per_replica=50"): (V, None),
}

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    ids: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import migrations

    url = f"sqlite:///{tmp_path_factory.mktemp('matrix')}/m.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    with transaction(factory) as session:
        record_anomaly(session=session, anomaly=anomaly(), policy=IncidentPolicy())
    tokens = {role.value: make_key(factory, role.value) for role in Role}
    revoked = make_key(factory, "admin", "gone")
    with transaction(factory) as session:
        victim, _ = keys.create_key(session=session, name="victim", role=V, actor=CLI)
        keys.revoke_key(session=session, key_id=revoked[4:16], actor=CLI)
    tokens["revoked"] = revoked
    tokens["bogus"] = "vgl_000000000000_" + "A" * 43
    tokens["garbage"] = "not-a-key"
    app = create_app(factory)
    app.state.feed.broadcaster.close()  # streams end at once, so the matrix can call them
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        incident_id = client.get("/api/v1/incidents", headers=admin).json()["items"][0]["id"]
        silence = client.post("/api/v1/silences", json=SILENCE, headers=admin).json()
        channel = {**CHANNEL, "name": "matrix-fixture"}
        channel_id = client.post("/api/v1/channels", json=channel, headers=admin).json()["id"]
        # An action requested by the responder key, so that approver and admin may decide.
        client.put("/api/v1/policies/matrix-policy", json=POLICY, headers=admin)
        proposed = client.post(
            "/api/v1/actions",
            json={"incident_id": incident_id, "policy": "matrix-policy"},
            headers={"Authorization": f"Bearer {tokens['responder']}"},
        )
        action_id = proposed.json()[0]["id"]
        # A shadow run to promote or stop, and one series' model record to read.
        run_id = client.post("/api/v1/models/candidates", json={}, headers=admin).json()["id"]
        with transaction(factory) as session:
            record_reports(session, [model_report()])
        record_id = client.get("/api/v1/models", headers=admin).json()["items"][0]["id"]
        yield World(
            client,
            tokens,
            {
                "incident_id": incident_id,
                "silence_id": silence["id"],
                "key_id": victim.id,
                "channel_id": channel_id,
                "action_id": action_id,
                "name": "matrix-policy",
                "prediction_id": "no-such-prediction",
                "service_name": "checkout",
                "run_id": run_id,
                "record_id": record_id,
            },
        )  # noqa: E501
    engine.dispose()


def _routes() -> set[tuple[str, str]]:
    """Every operation the app serves, from its OpenAPI document."""
    app = create_app(make_session_factory(make_engine("sqlite://")))
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_the_matrix_covers_every_endpoint() -> None:
    api = {r for r in _routes() if r[1].startswith("/api/")} - SIGNED
    matrix = {(method, path.split("?", 1)[0]) for method, path in MATRIX}  # minus query
    assert api == matrix, f"missing: {api - matrix}, stale: {matrix - api}"
    assert _routes() - api == PUBLIC | SIGNED


def _call(world: World, method: str, path: str, body: Any, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = path.format(**world.ids)
    payload: object = body
    if isinstance(body, dict):  # ids inside bodies, e.g. {"incident_id": "{incident_id}"}
        payload = {k: v.format(**world.ids) if isinstance(v, str) else v for k, v in body.items()}
    response = world.client.request(method, url, json=payload, headers=headers)
    return int(response.status_code)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_without_a_valid_key_every_endpoint_is_401(world: World, method: str, path: str) -> None:
    _, body = MATRIX[(method, path)]
    for token in (None, world.keys["revoked"], world.keys["bogus"], world.keys["garbage"]):
        assert _call(world, method, path, body, token) == 401, token


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_each_role_gets_exactly_what_the_matrix_allows(
    world: World, method: str, path: str, role: Role
) -> None:
    needed, body = MATRIX[(method, path)]
    status = _call(world, method, path, body, world.keys[role.value])
    if allows(role, needed):
        assert status not in (401, 403) and status < 500, status
    else:
        assert status == 403, status


def test_the_stream_also_accepts_the_key_as_a_query_parameter(world: World) -> None:
    ok = world.client.get("/api/v1/incidents/stream", params={"access_token": world.keys["viewer"]})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/event-stream")
    bad = world.client.get("/api/v1/incidents/stream", params={"access_token": "vgl_nope"})
    assert bad.status_code == 401
    elsewhere = world.client.get("/api/v1/incidents", params={"access_token": world.keys["admin"]})
    assert elsewhere.status_code == 401  # only the stream takes a key in the URL


def test_public_endpoints_need_no_key(world: World) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert world.client.get(path).status_code == 200, path
