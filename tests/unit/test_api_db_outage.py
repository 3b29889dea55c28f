"""With the database unreachable the api answers 503 with Retry-After, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.core.db import make_engine, make_session_factory
from tests.integration.procs import free_port


def test_an_unreachable_database_is_a_503_not_a_500() -> None:
    # Nothing listens on this port: every connection attempt is refused at once.
    engine = make_engine(f"postgresql+psycopg://vigil:vigil@127.0.0.1:{free_port()}/vigil")
    app = create_app(make_session_factory(engine))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(
            "/api/v1/incidents", headers={"Authorization": "Bearer vgl_0123456789ab_" + "A" * 43}
        )
        ready = client.get("/readyz")
    engine.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert "database unavailable" in response.json()["detail"]
    assert ready.status_code == 503 and ready.json()["database"] is False
