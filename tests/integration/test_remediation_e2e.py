"""Remediation end to end on real Kafka and PostgreSQL, each service in its own process.

An external alert opens an incident -> the api matches a policy and proposes an action ->
the policy's owner may not approve it, an approver key does (through the API) -> the command
goes out on remediation.commands -> a real `vigil run remediate` runs it against the demo
target and publishes remediation.results -> the alert resolves, verification sees the signal
quiet and resolves the incident (before its own quiet period would) -> every step is on the
incident's timeline. Also: the kill switch engaged through the API reaches the real worker on
remediation.control, which then refuses commands already on their way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import make_key
from tests.integration.kafka_tools import wait_for
from tests.integration.stack import Stack

POLICY = """
policies:
  - name: restart-checkout
    owner: olivia
    match: {services: [checkout], min_severity: error}
    actions:
      - {action: demo.restart, target: "{service}", risk: medium}
    approval: {required: 1, ttl: 10m}
"""


@pytest.fixture
def stack(kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Stack]:
    policy = tmp_path / "policies.yaml"
    policy.write_text(POLICY)
    running = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    running.env.update(
        {
            "VIGIL_REMEDIATION_POLICIES": str(policy),
            "VIGIL_REMEDIATION_SWEEP_INTERVAL_S": "0.5",
            "VIGIL_REMEDIATION_VERIFY_SETTLE_S": "1",
            "VIGIL_QUIET_PERIOD_S": "3600",  # only verification resolves it within the test
            "VIGIL_REMEDIATE_DEMO": "true",
            "VIGIL_REMEDIATE_DEMO_WORKLOADS": '["checkout"]',
            "VIGIL_SECRET_KEY_FILE": str(tmp_path / "secret-key"),
        }
    )
    for name in ("api", "ingest", "remediate"):
        running.start(name)
    yield running
    running.stop_all()


def _alert(status: str) -> dict[str, Any]:
    return {
        "events": [
            {
                "fingerprint": "checkout-5xx",
                "status": status,
                "severity": "critical",
                "service": "checkout",
                "summary": "checkout answers 5xx",
                "labels": {"env": "prod"},
            }
        ]
    }


def _actions(stack: Stack, incident_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.api}/api/v1/actions",
        params={"incident_id": incident_id},
        headers=stack.headers,
        timeout=10,
    )
    response.raise_for_status()
    return list(response.json()["items"])


def _state(stack: Stack, incident_id: str, state: str) -> dict[str, Any] | None:
    actions = _actions(stack, incident_id)
    return actions[0] if actions and actions[0]["state"] == state else None


def test_incident_to_verified_remediation_through_the_api(stack: Stack, pg_url: str) -> None:
    from services.core.db import make_engine, make_session_factory

    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    bob = {"Authorization": f"Bearer {make_key(factory, 'approver', 'bob')}"}
    olivia = {"Authorization": f"Bearer {make_key(factory, 'approver', 'olivia')}"}
    engine.dispose()

    assert httpx.post(f"{stack.ingest}/v1/json", json=_alert("firing")).status_code == 200
    incident = wait_for(lambda: stack.incidents("checkout"), timeout_s=60, what="the incident")[0]
    proposed = wait_for(
        lambda: _state(stack, incident["id"], "proposed"), timeout_s=60, what="a proposal"
    )
    assert (proposed["action"], proposed["target"]) == ("demo.restart", "checkout")
    url = f"{stack.api}/api/v1/actions/{proposed['id']}/approve"
    refused = httpx.post(url, headers=olivia, json={"comment": "mine"})
    assert refused.status_code == 403, refused.text  # the policy's owner: no self-approval
    approved = httpx.post(url, headers=bob, json={"comment": "go"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == ["bob"]

    executed = wait_for(
        lambda: _state(stack, incident["id"], "succeeded"),
        timeout_s=90,
        what="the worker's result",
    )
    assert executed["result_detail"] == "restarted checkout"
    commands = stack.events("remediation.commands")
    assert [c.id for c in commands] == [proposed["id"]]  # the action id is the idempotency key

    # The target recovered: its alert resolves, and verification concludes.
    assert httpx.post(f"{stack.ingest}/v1/json", json=_alert("resolved")).status_code == 200
    verified = wait_for(
        lambda: _state(stack, incident["id"], "verified"), timeout_s=60, what="verification"
    )
    assert verified["verdict"]
    after = httpx.get(f"{stack.api}/api/v1/incidents/{incident['id']}", headers=stack.headers)
    assert after.json()["status"] == "resolved"

    timeline = httpx.get(
        f"{stack.api}/api/v1/incidents/{incident['id']}/timeline", headers=stack.headers
    ).json()
    kinds = [e["kind"] for e in timeline]
    steps = [
        "incident.opened",
        "action.proposed",
        "approval.approved",
        "action.sent",
        "action.executed",
        "action.verified",
        "incident.resolved",
    ]
    positions = [kinds.index(step) for step in steps]
    assert positions == sorted(positions), kinds
    approval = timeline[kinds.index("approval.approved")]
    assert approval["actor"] == "bob" and approval["detail"]["via"] == "api"
    assert timeline[kinds.index("incident.resolved")]["actor"] == "remediation"
    rates = httpx.get(f"{stack.api}/api/v1/remediation/success-rates", headers=stack.headers)
    assert rates.json() == [
        {"runbook": "demo.restart", "incident_kind": "alert", "attempts": 1, "succeeded": 1,
         "failed": 0, "verified": 1, "rolled_back": 0, "success_rate": 1.0}
    ]  # fmt: skip


def test_the_api_kill_switch_reaches_a_real_worker(
    stack: Stack, kafka_bootstrap: str, topic_prefix: str
) -> None:
    from services.core.events import RemediationCommand
    from tests.integration.test_remediate_kafka import publish, results

    worker = stack.procs["remediate"]
    switch = f"{stack.api}/api/v1/remediation/kill-switch"

    def command(cid: str) -> RemediationCommand:
        return RemediationCommand(
            id=cid, incident_id="inc-ks", request_id=cid, action="demo.restart", target="checkout"
        )

    def result_of(cid: str) -> dict[str, Any] | None:
        found = [r for r in results(kafka_bootstrap, topic_prefix) if r["command_id"] == cid]
        return found[0] if found else None

    engaged = httpx.put(switch, json={"engaged": True, "reason": "e2e"}, headers=stack.headers)
    assert engaged.status_code == 200 and engaged.json()["engaged"]
    worker.wait_log("kill switch engaged by integration-tests: e2e")  # via remediation.control
    publish(kafka_bootstrap, topic_prefix, command("ks-1"))  # e.g. a command already in flight
    refused = wait_for(lambda: result_of("ks-1"), timeout_s=60, what="the refusal")
    assert refused["status"] == "rejected"
    assert "kill switch engaged by integration-tests" in refused["detail"]

    released = httpx.put(switch, json={"engaged": False}, headers=stack.headers)
    assert released.json()["engaged"] is False
    worker.wait_log("kill switch released")
    publish(kafka_bootstrap, topic_prefix, command("ks-2"))
    ran = wait_for(lambda: result_of("ks-2"), timeout_s=60, what="the command to run")
    assert ran["status"] == "succeeded", ran
