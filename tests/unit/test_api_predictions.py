"""Predictions through the api over SQLite: stored from the bus consumer, listed, read back as
KEDA scaling advice, and failure alerts turned into "predicted" incidents."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.api.app import create_app
from services.api.incidents.models import Incident
from services.api.incidents.signals import IncidentPolicy, record_anomaly
from services.api.outbox import OutboxMessage
from services.api.predictions.consumer import PredictionConsumer
from services.core.db import make_engine, make_session_factory, transaction
from services.core.events import IncidentEvent, Prediction, utcnow
from tests.factories import anomaly, make_key


@pytest.fixture
def factory(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def client(factory: sessionmaker[Session]) -> Iterator[TestClient]:
    key = make_key(factory, "viewer", "reader")
    with TestClient(create_app(factory), headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def _store(factory: sessionmaker[Session], *predictions: Prediction) -> PredictionConsumer:
    consumer = PredictionConsumer(factory, IncidentPolicy())
    asyncio.run(consumer.handle(list(predictions)))
    return consumer


def forecast(peak: float, minutes_ago: float, service: str = "checkout") -> Prediction:
    at = utcnow() - timedelta(minutes=minutes_ago)
    return Prediction(
        service=service,
        kind="load_forecast",
        probability=0.0,
        timestamp=at,
        value=peak,
        series=f'http_requests_per_second{{service="{service}"}}',
        detail={"metric": "http_requests_per_second", "forecast": [peak], "step_s": 300},
    )


def failure(
    probability: float, status: str | None, minute: float = 0, service: str = "checkout"
) -> Prediction:
    return Prediction(
        service=service,
        kind="failure",
        probability=probability,
        lead_time_s=1500.0,
        timestamp=utcnow() - timedelta(minutes=60 - minute),
        status=status,
        detail={"reason": "memory_bytes reaches its limit in 25 min", "horizon_s": 3600},
    )


def test_scaling_answers_replicas_for_the_forecast_peak(
    factory: sessionmaker[Session], client: TestClient
) -> None:
    _store(factory, forecast(380.0, minutes_ago=1))
    answer = client.get("/api/v1/scaling/checkout", params={"target_per_replica": 100})
    assert answer.status_code == 200
    body = answer.json()
    assert body["predicted_replicas"] == 5  # ceil(380 * 1.2 / 100)
    assert body["forecast_peak"] == 380.0 and body["stale"] is False
    assert body["metric"] == "http_requests_per_second"
    bounded = client.get(
        "/api/v1/scaling/checkout",
        params={"target_per_replica": 100, "max_replicas": 3, "headroom": 0},
    )
    assert bounded.json()["predicted_replicas"] == 3


def test_scaling_down_is_damped_over_the_window(
    factory: sessionmaker[Session], client: TestClient
) -> None:
    _store(factory, forecast(900.0, minutes_ago=10), forecast(100.0, minutes_ago=1))
    params: dict[str, Any] = {"target_per_replica": 100, "headroom": 0}
    held = client.get("/api/v1/scaling/checkout", params=params).json()
    assert (held["predicted_replicas"], held["undamped_replicas"]) == (9, 1)
    short = client.get("/api/v1/scaling/checkout", params={**params, "scale_down_window_s": 120})
    assert short.json()["predicted_replicas"] == 1


def test_scaling_without_a_recent_forecast_is_min_replicas_and_stale(
    factory: sessionmaker[Session], client: TestClient
) -> None:
    _store(factory, forecast(900.0, minutes_ago=120))
    body = client.get(
        "/api/v1/scaling/checkout", params={"target_per_replica": 100, "min_replicas": 2}
    ).json()
    assert body["predicted_replicas"] == 2 and body["stale"] is True
    other = client.get("/api/v1/scaling/nobody", params={"target_per_replica": 100}).json()
    assert other["predicted_replicas"] == 1 and other["forecast_peak"] is None


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "target_per_replica"),
        ({"target_per_replica": 0}, "target_per_replica"),
        ({"target_per_replica": 10, "min_replicas": 5, "max_replicas": 2}, "min_replicas"),
        ({"target_per_replica": 10, "headroom": -1}, "headroom"),
    ],
)
def test_scaling_refuses_bad_parameters_with_a_422_naming_them(
    client: TestClient, params: dict[str, Any], needle: str
) -> None:
    answer = client.get("/api/v1/scaling/checkout", params=params)
    assert answer.status_code == 422
    assert needle in answer.text


def test_predictions_are_listed_newest_first_with_filters_and_cursor(
    factory: sessionmaker[Session], client: TestClient
) -> None:
    stored = [forecast(float(i), minutes_ago=30 - i) for i in range(5)]
    stored += [failure(0.3, None, minute=10), failure(0.95, None, minute=20, service="cart")]
    _store(factory, *stored)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/predictions", params=params).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and len(set(seen)) == 7
    stamps = [client.get(f"/api/v1/predictions/{i}").json()["at"] for i in seen]
    assert stamps == sorted(stamps, reverse=True)
    kinds = client.get("/api/v1/predictions", params={"kind": "failure"}).json()["items"]
    assert {p["service"] for p in kinds} == {"checkout", "cart"}
    likely = client.get("/api/v1/predictions", params={"min_probability": 0.9}).json()["items"]
    assert [p["service"] for p in likely] == ["cart"]
    assert client.get("/api/v1/predictions", params={"service": "cart"}).json()["items"]
    assert client.get("/api/v1/predictions", params={"cursor": "nope"}).status_code == 400
    assert client.get("/api/v1/predictions", params={"kind": "weather"}).status_code == 422
    assert client.get("/api/v1/predictions/unknown").status_code == 404


def test_redelivered_predictions_are_stored_once(factory: sessionmaker[Session]) -> None:
    one = forecast(10.0, minutes_ago=1)
    _store(factory, one, one)
    _store(factory, one)
    with factory() as session:
        from services.api.predictions.models import PredictionRecord

        assert len(session.scalars(select(PredictionRecord)).all()) == 1


def _incidents(factory: sessionmaker[Session]) -> list[Incident]:
    with factory() as session:
        return list(session.scalars(select(Incident)))


def _published(factory: sessionmaker[Session]) -> list[IncidentEvent]:
    with factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [
            IncidentEvent.model_validate_json(r.payload) for r in rows if r.topic == "incidents"
        ]


def test_a_failure_alert_opens_a_predicted_incident_and_its_end_resolves_it(
    factory: sessionmaker[Session], client: TestClient
) -> None:
    _store(factory, failure(0.4, None, minute=0))
    assert _incidents(factory) == []  # a probability below the alert opens nothing
    _store(factory, failure(0.92, "firing", minute=10))
    (incident,) = _incidents(factory)
    assert incident.kind == "predicted" and incident.status == "open"
    assert incident.firing == ["prediction:failure:checkout"]
    assert "Predicted failure of checkout" in incident.title
    read = client.get(f"/api/v1/incidents/{incident.id}").json()
    assert read["kind"] == "predicted"
    timeline = client.get(f"/api/v1/incidents/{incident.id}/timeline").json()
    assert "prediction.firing" in [e["kind"] for e in timeline]
    opened = _published(factory)[0]
    assert opened.type == "opened" and opened.kind == "predicted"
    _store(factory, failure(0.2, "resolved", minute=30))
    (incident,) = _incidents(factory)
    assert incident.status == "resolved"


def test_a_real_anomaly_joining_a_predicted_incident_makes_it_detected(
    factory: sessionmaker[Session],
) -> None:
    _store(factory, failure(0.92, "firing", minute=10))
    with transaction(factory) as session:
        late = anomaly(series='memory_bytes{service="checkout"}')
        record_anomaly(
            session=session,
            anomaly=late.model_copy(update={"timestamp": utcnow()}),
            policy=IncidentPolicy(),
        )
    (incident,) = _incidents(factory)
    assert incident.kind == "detected"
    assert len(incident.firing) == 2


def test_predictions_older_than_the_retention_are_deleted(
    factory: sessionmaker[Session],
) -> None:
    from services.api.predictions.models import PredictionRecord

    consumer = PredictionConsumer(factory, IncidentPolicy(), retention=timedelta(hours=1))
    old, recent = forecast(1.0, minutes_ago=120), forecast(2.0, minutes_ago=5)
    asyncio.run(consumer.handle([old, recent]))  # the first batch also prunes
    assert consumer.pruned == 1
    with factory() as session:
        assert session.scalars(select(PredictionRecord.id)).all() == [recent.id]
    asyncio.run(consumer.handle([forecast(3.0, minutes_ago=180)]))
    assert consumer.pruned == 1  # not again within prune_every_s: kept until the next pass
