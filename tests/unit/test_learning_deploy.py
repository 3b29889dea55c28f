"""The example KEDA ScaledObject and PrometheusRule match what Vigil actually serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from benchmarks.scenarios.slowburn import SlowBurn, slowburn_run, telemetry
from services.api.app import create_app
from services.core.db import make_engine, make_session_factory
from services.detect.predict.engine import Intelligence
from services.detect.predict.metrics import IntelligenceCollector
from tests.factories import make_key

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_the_scaled_object_asks_vigil_for_predicted_replicas_with_a_bearer_key(
    sqlite_url: str,
) -> None:
    docs = {d["kind"]: d for d in _documents(DEPLOY / "keda" / "scaledobject.yaml")}
    trigger = docs["ScaledObject"]["spec"]["triggers"][0]
    assert trigger["type"] == "metrics-api"
    meta = trigger["metadata"]
    assert meta["valueLocation"] == "predicted_replicas" and meta["authMode"] == "bearer"
    auth = docs["TriggerAuthentication"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert auth["spec"]["secretTargetRef"][0]["parameter"] == "token"
    url = urlsplit(meta["url"])
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    key = make_key(factory, "viewer", "keda")
    with TestClient(create_app(factory)) as client:
        path = f"{url.path}?{url.query}"
        assert client.get(path).status_code == 401  # KEDA must send the key
        answer = client.get(path, headers={"Authorization": f"Bearer {key}"})
    engine.dispose()
    assert answer.status_code == 200, answer.text
    spec = docs["ScaledObject"]["spec"]
    assert answer.json()["predicted_replicas"] == spec["minReplicaCount"]  # no forecast yet


def test_the_prometheus_rules_use_gauges_the_detect_service_exposes() -> None:
    (rule,) = _documents(DEPLOY / "prometheus" / "vigil-learning-rules.yaml")
    assert rule["kind"] == "PrometheusRule"
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    intelligence = Intelligence()
    for point in telemetry(slowburn_run(SlowBurn.MEMORY_LEAK, 1)):
        intelligence.observe_point(point)
    registry = CollectorRegistry()
    registry.register(IntelligenceCollector(intelligence))
    exposed = generate_latest(registry).decode()
    names = set(re.findall(r"^(vigil_\w+)\{", exposed, re.M))
    used = {name for expr in exprs for name in re.findall(r"\bvigil_\w+", expr)}
    assert used and used <= names, used - names
    for expr in exprs:  # every label a rule selects on is one the gauges carry
        for name, selector in re.findall(r"(vigil_\w+)\{([^}]*)\}", expr):
            for label in re.findall(r"(\w+)=", selector):
                assert re.search(rf"^{name}\{{[^}}]*\b{label}=", exposed, re.M), (name, label)
