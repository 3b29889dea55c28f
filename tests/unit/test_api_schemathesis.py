"""Property-based run over the OpenAPI: generated requests never get a 500.

schemathesis calls the ASGI app in-process (SQLite, an admin key, a few incidents, an alert
and a silence so that ids resolve), with a bounded number of examples per operation. The app
is built at import (schemathesis reads its schema then); the database behind it is created
and seeded by a module fixture before the first call.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

import migrations
from services.api.app import create_app
from services.api.incidents.signals import IncidentPolicy, record_alert, record_anomaly
from services.api.predictions import service as predictions
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import Prediction, utcnow
from tests.factories import alert, anomaly, make_key

_DIR = Path(tempfile.mkdtemp(prefix="vigil-schemathesis-"))
_URL = f"sqlite:///{_DIR}/s.db"
_ENGINE = make_engine(_URL)  # connects on first use, not here
_FACTORY = make_session_factory(_ENGINE)
APP = create_app(_FACTORY)
APP.state.feed.broadcaster.close()  # the SSE stream answers and ends instead of waiting
AUTH: dict[str, str] = {}

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def seeded_database() -> Iterator[None]:
    migrations.upgrade(_URL)
    with transaction(_FACTORY) as session:
        for i in range(3):
            a = anomaly(service=f"svc{i}", series=f"s{i}", minute=i)
            record_anomaly(session=session, anomaly=a, policy=IncidentPolicy())
        record_alert(session=session, alert=alert(), policy=IncidentPolicy())
        forecast = Prediction(service="svc0", kind="load_forecast", probability=0.0,
                              timestamp=utcnow(), value=42.0,
                              detail={"metric": "http_requests_per_second"})  # fmt: skip
        predictions.record(session=session, predictions=[forecast], policy=IncidentPolicy())
    AUTH["Authorization"] = f"Bearer {make_key(_FACTORY, 'admin', 'schemathesis')}"
    yield
    _ENGINE.dispose()
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_generated_requests_never_get_a_server_error(case: Any) -> None:
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=[not_a_server_error])
