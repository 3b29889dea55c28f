"""The learning loop end to end on real Kafka and PostgreSQL: metric points into detect,
forecasts and a failure alert out on `predictions`, stored by the api, served as KEDA scaling
advice, and a "predicted" incident opened before the failure."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import httpx

import migrations
from benchmarks.scenarios.slowburn import SlowBurn, slowburn_run, telemetry
from services.api.service import build_api
from services.api.settings import ApiSettings
from services.core.bus.kafka import KafkaBus, ensure_topics
from services.core.events import Event, utcnow
from services.core.topics import TELEMETRY_METRICS
from services.detect.service import build_detect
from services.detect.settings import DetectSettings
from tests.factories import make_key
from tests.integration.kafka_tools import wait_until


def test_leak_is_predicted_and_load_is_served_as_replicas(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str
) -> None:
    migrations.upgrade(pg_url)
    # The topics exist before detect is built, as in a running installation: detect's
    # broadcast readers start when it is built, and on a missing topic they wait and retry.
    ensure_topics([kafka_bootstrap], prefix=topic_prefix)
    # A memory leak whose failure would come two minutes from now, with its history behind.
    run = slowburn_run(SlowBurn.MEMORY_LEAK, 1)
    assert run.failure_s is not None
    run = replace(run, start=utcnow() - timedelta(seconds=run.failure_s - 120))
    points: list[Event] = list(telemetry(run))
    api_settings = ApiSettings(
        database_url=pg_url, kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix
    )
    detect_settings = DetectSettings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, forecast_step_s=300
    )

    async def main() -> None:
        api_bus = KafkaBus([kafka_bootstrap], client_id="api-test", topic_prefix=topic_prefix)
        detect_bus = KafkaBus([kafka_bootstrap], client_id="detect", topic_prefix=topic_prefix)
        producer = KafkaBus([kafka_bootstrap], client_id="producer", topic_prefix=topic_prefix)
        api = build_api(api_settings, api_bus)
        detect = build_detect(detect_settings, detect_bus)
        for bus in (api_bus, detect_bus, producer):
            await bus.start()
        await api.start()
        key = make_key(api.session_factory, "viewer", "keda")
        transport = httpx.ASGITransport(app=api.app)
        try:
            await detect_bus.wait_assigned()
            await api_bus.wait_assigned()
            await producer.publish(TELEMETRY_METRICS, points)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://api",
                headers={"Authorization": f"Bearer {key}"},
            ) as client:

                async def predicted() -> bool:
                    page = await client.get("/api/v1/incidents", params={"service": run.service})
                    return any(i["kind"] == "predicted" for i in page.json()["items"])

                await wait_until(predicted, timeout_s=120, what="a predicted incident")
                scaling = await client.get(
                    f"/api/v1/scaling/{run.service}",
                    params={"target_per_replica": 5, "headroom": 0, "max_age_s": 3600},
                )
                predictions = await client.get(
                    "/api/v1/predictions", params={"service": run.service, "kind": "failure"}
                )
                unauthenticated = await client.get(
                    f"/api/v1/scaling/{run.service}",
                    params={"target_per_replica": 5},
                    headers={"Authorization": ""},
                )
        finally:
            await api.stop()
            for bus in (api_bus, detect_bus, producer):
                await bus.stop()
            if detect.predictor is not None:
                detect.predictor.close()
        assert scaling.status_code == 200, scaling.text
        body = scaling.json()
        assert body["stale"] is False and body["metric"] == "http_requests_per_second"
        # The shop's request rate swells around 20/s: 4-5 replicas of 5/s each.
        assert 3 <= body["predicted_replicas"] <= 6, body
        alerts = [p for p in predictions.json()["items"] if p["status"] == "firing"]
        assert len(alerts) == 1 and alerts[0]["probability"] >= 0.8
        assert alerts[0]["lead_time_s"] is not None and alerts[0]["lead_time_s"] > 300
        assert unauthenticated.status_code == 401

    asyncio.run(main())
