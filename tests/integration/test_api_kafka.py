"""The api service on real Kafka and PostgreSQL, in-process: batched consumption of anomalies
and external alerts, idempotent redelivery, the outbox to `incidents` and `feedback`, and
offsets committed once the work is stored."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import select

import migrations
from services.api.incidents.models import Incident, Signal
from services.api.service import build_api
from services.api.settings import ApiSettings
from services.core.bus.kafka import KafkaBus
from services.core.events import Event, Feedback, IncidentEvent
from services.core.topics import ALERTS_EXTERNAL, ANOMALIES
from tests.factories import alert, anomaly, make_key
from tests.integration.kafka_tools import group_lag, read_all


async def _until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.3)


def test_api_consumes_batches_idempotently_and_publishes_through_the_outbox(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str
) -> None:
    migrations.upgrade(pg_url)
    settings = ApiSettings(
        database_url=pg_url,
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        consumer_batch=50,
        outbox_poll_s=0.2,
    )
    burst: list[Event] = [anomaly(series=f"s{i}", minute=i * 0.01) for i in range(120)]
    alerts: list[Event] = [alert(service="payments", minute=m, event_id=f"a{m}") for m in range(5)]

    async def main() -> None:
        bus = KafkaBus([kafka_bootstrap], client_id="api-test", topic_prefix=topic_prefix)
        api = build_api(settings, bus)
        producer = KafkaBus([kafka_bootstrap], client_id="producer", topic_prefix=topic_prefix)
        await bus.start()
        await producer.start()
        await api.start()
        try:
            await bus.wait_assigned()
            for _ in range(2):  # everything delivered twice
                await producer.publish(ANOMALIES, burst)
                await producer.publish(ALERTS_EXTERNAL, alerts)

            def stored() -> bool:
                with api.session_factory() as session:
                    return len(session.scalars(select(Signal.id)).all()) == 125

            await _until(stored, 60, "every signal to be stored")

            def committed() -> bool:
                anomalies = group_lag(
                    kafka_bootstrap, f"{topic_prefix}vigil-api", f"{topic_prefix}anomalies"
                )  # noqa: E501
                return anomalies == 0

            await _until(committed, 30, "the api group to commit its offsets")
            with api.session_factory() as session:
                incidents = {i.service: i for i in session.scalars(select(Incident))}
            assert set(incidents) == {"checkout", "payments"}
            assert len(incidents["checkout"].firing) == 120
            assert incidents["checkout"].signal_count == 120  # redelivery changed nothing
            assert incidents["payments"].firing == ["alert:alertmanager:fp-1"]
            key = make_key(api.session_factory, "responder", "it")
            transport = httpx.ASGITransport(app=api.app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://api",
                headers={"Authorization": f"Bearer {key}"},
            ) as client:
                answer = await client.post(
                    f"/api/v1/incidents/{incidents['payments'].id}/feedback",
                    json={"label": "false_positive", "comment": "load test"},
                )
                assert answer.status_code == 201

            def published() -> bool:
                feedback = read_all(kafka_bootstrap, f"{topic_prefix}feedback", timeout_s=2)
                opened = read_all(kafka_bootstrap, f"{topic_prefix}incidents", timeout_s=2)
                return len(feedback) == 1 and len(opened) == 2

            await _until(published, 30, "the outbox to publish")
        finally:
            await api.stop()
            await bus.stop()
            await producer.stop()
        feedback = read_all(kafka_bootstrap, f"{topic_prefix}feedback")
        assert Feedback.model_validate_json(feedback[0].value).label.value == "false_positive"
        events = [
            IncidentEvent.model_validate_json(m.value)
            for m in read_all(kafka_bootstrap, f"{topic_prefix}incidents")
        ]  # noqa: E501
        assert sorted(e.type.value for e in events) == ["opened", "opened"]

    asyncio.run(main())
