"""Alerts from other tools: Alertmanager webhooks, PagerDuty Events v2, native JSON events."""

from __future__ import annotations

from typing import Any

from services.core.events import ExternalAlert, LogRecord, MetricPoint, Severity
from services.core.topics import ALERTS_EXTERNAL, TELEMETRY_LOGS, TELEMETRY_METRICS
from tests.unit.ingest_payloads import app_with, post


def _webhook(status: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "vigil",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


FIRING = {
    "status": "firing",
    "labels": {"alertname": "HighLatency", "service": "checkout", "severity": "page"},
    "annotations": {"summary": "p99 latency above 2s"},
    "startsAt": "2026-11-27T10:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus:9090/graph",
    "fingerprint": "c4d1f3a2b5e6d7f8",
}


def _alerts(bus: Any) -> list[ExternalAlert]:
    return [ExternalAlert.model_validate_json(m.value) for m in bus.recent(ALERTS_EXTERNAL.name)]


def test_alertmanager_firing_then_resolved() -> None:
    app, bus = app_with()
    first = post(app, "/v1/alerts/alertmanager", json=_webhook("firing", [FIRING]))
    resolved = {**FIRING, "status": "resolved", "endsAt": "2026-11-27T10:05:00Z"}
    second = post(app, "/v1/alerts/alertmanager", json=_webhook("resolved", [resolved]))
    assert (first.status_code, second.status_code) == (200, 200)
    fired, cleared = _alerts(bus)
    assert fired.status == "firing" and fired.ends_at is None
    assert fired.severity == Severity.CRITICAL
    assert (fired.source, fired.fingerprint, fired.service) == (
        "alertmanager",
        "c4d1f3a2b5e6d7f8",
        "checkout",
    )
    assert fired.summary == "p99 latency above 2s"
    assert cleared.status == "resolved" and cleared.ends_at is not None
    assert cleared.fingerprint == fired.fingerprint


def test_alertmanager_resend_yields_the_same_event_id() -> None:
    app, bus = app_with()
    for _ in range(2):
        post(app, "/v1/alerts/alertmanager", json=_webhook("firing", [FIRING]))
    first, again = _alerts(bus)
    assert first.id == again.id


def test_alertmanager_wrong_version_names_the_field() -> None:
    app, _ = app_with()
    response = post(
        app, "/v1/alerts/alertmanager", json={**_webhook("firing", [FIRING]), "version": "3"}
    )
    assert response.status_code == 400
    assert "version" in response.json()["detail"]


def _pd(action: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"routing_key": "R" * 32, "event_action": action, **extra}
    if action == "trigger":
        event.setdefault(
            "payload",
            {
                "summary": "disk full on db-1",
                "source": "db-1.example.com",
                "severity": "critical",
                "component": "postgres",
                "class": "disk",
            },
        )
    return event


def test_pagerduty_trigger_acknowledge_resolve() -> None:
    app, bus = app_with()
    triggered = post(app, "/v2/enqueue", json=_pd("trigger"))
    assert triggered.status_code == 202
    answer = triggered.json()
    assert answer["status"] == "success" and answer["dedup_key"]
    key = answer["dedup_key"]
    assert post(app, "/v2/enqueue", json=_pd("trigger")).json()["dedup_key"] == key  # retry
    post(app, "/v2/enqueue", json=_pd("acknowledge", dedup_key=key))
    post(app, "/v2/enqueue", json=_pd("resolve", dedup_key=key))
    trigger, _, ack, resolve = _alerts(bus)
    assert (trigger.status, trigger.service, trigger.severity) == (
        "firing",
        "postgres",
        Severity.CRITICAL,
    )
    assert trigger.labels["class"] == "disk"
    assert "routing_key" not in trigger.labels and "R" * 32 not in trigger.model_dump_json()
    assert ack.status == "firing" and ack.labels["event_action"] == "acknowledge"
    assert resolve.status == "resolved" and resolve.fingerprint == key


def test_pagerduty_errors_are_answered_the_pagerduty_way() -> None:
    app, _ = app_with()
    response = post(app, "/v2/enqueue", json=_pd("resolve"))  # no dedup_key
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert "dedup_key" in body["errors"][0]


def test_pagerduty_routing_key_is_an_ingest_token() -> None:
    app, bus = app_with(ingest_tokens={"R" * 32: "team-db"})
    assert post(app, "/v2/enqueue", json=_pd("trigger")).status_code == 202
    other = {**_pd("trigger"), "routing_key": "X" * 32}
    assert post(app, "/v2/enqueue", json=other).status_code == 401
    assert _alerts(bus)[0].tenant == "team-db"


def test_native_json_batch_carries_metrics_logs_and_events() -> None:
    app, bus = app_with()
    body = {
        "metrics": [{"name": "queue_depth", "labels": {"service": "api"}, "value": 3}],
        "logs": [{"service": "api", "severity": "error", "body": "timeout talking to db"}],
        "events": [{"fingerprint": "deploy-42", "service": "api", "summary": "deploy started"}],
    }
    response = post(app, "/v1/json", json=body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 3}
    [point] = [MetricPoint.model_validate_json(m.value) for m in bus.recent(TELEMETRY_METRICS.name)]
    [log] = [LogRecord.model_validate_json(m.value) for m in bus.recent(TELEMETRY_LOGS.name)]
    [event] = _alerts(bus)
    assert (point.name, point.value, log.severity, event.source) == (
        "queue_depth",
        3.0,
        Severity.ERROR,
        "json",
    )


def test_native_json_batch_must_not_be_empty_and_names_bad_fields() -> None:
    app, _ = app_with()
    assert post(app, "/v1/json", json={}).status_code == 400
    response = post(app, "/v1/json", json={"logs": [{"body": "x", "severity": "loud"}]})
    assert response.status_code == 400
    assert "logs.0.severity" in response.json()["detail"]
