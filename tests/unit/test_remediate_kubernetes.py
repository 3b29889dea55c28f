"""The Kubernetes executor against a local server that checks what a real API server expects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.core.events import RemediationCommand
from services.remediate.errors import Refused
from services.remediate.executors.base import ExecutorRegistry
from services.remediate.executors.kubernetes import (
    OPT_IN_ANNOTATION,
    KubernetesConfig,
    KubernetesExecutor,
)
from tests.unit.remediate_fakes import FakeClock, Recorder, http_server

DEPLOY = "/apis/apps/v1/namespaces/prod/deployments/checkout"
TOKEN = "sa-token-123"


def deployment(*, opted_in: bool = True, revision: str = "3", replicas: int = 4) -> Any:
    annotations = {"deployment.kubernetes.io/revision": revision}
    if opted_in:
        annotations[OPT_IN_ANNOTATION] = "enabled"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": "prod",
            "uid": "dep-uid",
            "annotations": annotations,
        },
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "checkout"}}},
    }


def replica_set(revision: int, image: str, *, owner: str = "dep-uid") -> Any:
    return {
        "metadata": {
            "name": f"checkout-{revision}",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "name": "checkout", "uid": owner}],
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "checkout", "pod-template-hash": f"h{revision}"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
    }


def command(action: str, target: str = "prod/checkout", **params: Any) -> RemediationCommand:
    return RemediationCommand(
        incident_id="inc-1", request_id="req-1", action=action, target=target, params=params
    )


def run(server: Recorder, cmd: RemediationCommand, clock: FakeClock | None = None) -> Any:
    executor = KubernetesExecutor(
        KubernetesConfig(host=server.url, token=TOKEN), clock or FakeClock()
    )
    return asyncio.run(executor.execute(cmd))


def test_rollout_restart_is_a_strategic_merge_patch_of_the_restarted_at_annotation() -> None:
    with http_server() as server:
        server.routes[("GET", DEPLOY)] = (200, deployment())
        server.routes[("PATCH", DEPLOY)] = (200, deployment())
        outcome = run(server, command("k8s.restart"))
    get, patch = server.seen
    assert (get.method, get.path) == ("GET", DEPLOY)
    assert get.headers["authorization"] == f"Bearer {TOKEN}"
    assert (patch.method, patch.path) == ("PATCH", DEPLOY)
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.headers["authorization"] == f"Bearer {TOKEN}"
    assert patch.json() == {
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-05T12:00:00Z"}
                }
            }
        }
    }
    assert outcome.succeeded


def test_scale_is_a_merge_patch_of_the_scale_subresource_and_remembers_the_old_count() -> None:
    with http_server() as server:
        server.routes[("GET", DEPLOY)] = (200, deployment(replicas=4))
        server.routes[("PATCH", f"{DEPLOY}/scale")] = (200, {"spec": {"replicas": 6}})
        outcome = run(server, command("k8s.scale", replicas=6))
    patch = server.seen[-1]
    assert (patch.method, patch.path) == ("PATCH", f"{DEPLOY}/scale")
    assert patch.content_type == "application/merge-patch+json"
    assert patch.json() == {"spec": {"replicas": 6}}
    assert outcome.output == {"previous_replicas": 4}
    undo = KubernetesExecutor(KubernetesConfig(host="http://x"), FakeClock()).rollback(
        command("k8s.scale", replicas=6), outcome.output
    )
    assert undo is not None and undo.params == {"replicas": 4}


def test_rollback_replaces_the_template_with_the_previous_owned_revision() -> None:
    with http_server() as server:
        server.routes[("GET", DEPLOY)] = (200, deployment(revision="3"))
        server.routes[("GET", "/apis/apps/v1/namespaces/prod/replicasets")] = (
            200,
            {
                "kind": "ReplicaSetList",
                "items": [
                    replica_set(1, "app:v1"),
                    replica_set(2, "app:v2"),
                    replica_set(3, "app:v3"),
                    replica_set(9, "other:v9", owner="someone-else"),
                ],
            },
        )
        server.routes[("PATCH", DEPLOY)] = (200, deployment())
        outcome = run(server, command("k8s.rollback"))
    listing, patch = server.seen[1], server.seen[2]
    assert listing.method == "GET"
    assert listing.path == "/apis/apps/v1/namespaces/prod/replicasets?labelSelector=app%3Dcheckout"
    assert patch.content_type == "application/json-patch+json"
    assert patch.json() == [
        {
            "op": "replace",
            "path": "/spec/template",
            "value": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "app", "image": "app:v2"}]},
            },
        }
    ]
    assert outcome.output == {"from_revision": 3, "to_revision": 2}


def test_rollback_without_an_older_revision_is_refused_without_patching() -> None:
    with http_server() as server:
        server.routes[("GET", DEPLOY)] = (200, deployment(revision="1"))
        server.routes[("GET", "/apis/apps/v1/namespaces/prod/replicasets")] = (
            200,
            {"items": [replica_set(1, "app:v1")]},
        )
        with pytest.raises(Refused, match="no revision before 1"):
            run(server, command("k8s.rollback"))
    assert [s.method for s in server.seen] == ["GET", "GET"]


def test_delete_pod_checks_the_pod_opt_in_then_deletes_it() -> None:
    pod_path = "/api/v1/namespaces/prod/pods/checkout-abc"
    pod = {
        "metadata": {
            "name": "checkout-abc",
            "uid": "p1",
            "annotations": {OPT_IN_ANNOTATION: "enabled"},
        }
    }
    with http_server() as server:
        server.routes[("GET", pod_path)] = (200, pod)
        server.routes[("DELETE", pod_path)] = (200, {"kind": "Status", "status": "Success"})
        outcome = run(
            server, command("k8s.delete_pod", target="prod/checkout-abc", grace_period_seconds=5)
        )
    delete = server.seen[-1]
    assert delete.method == "DELETE"
    assert delete.path == f"{pod_path}?gracePeriodSeconds=5"
    assert outcome.output == {"uid": "p1"}


@pytest.mark.parametrize(
    ("action", "params"),
    [("k8s.restart", {}), ("k8s.scale", {"replicas": 2}), ("k8s.rollback", {})],
)
def test_workload_without_the_opt_in_annotation_is_refused_and_never_changed(
    action: str, params: dict[str, Any]
) -> None:
    with http_server() as server:
        server.routes[("GET", DEPLOY)] = (200, deployment(opted_in=False))
        with pytest.raises(Refused, match="has not opted in"):
            run(server, command(action, **params))
    assert [(s.method, s.path) for s in server.seen] == [("GET", DEPLOY)]


def test_missing_deployment_is_refused() -> None:
    with http_server() as server:
        with pytest.raises(Refused, match="not found"):
            run(server, command("k8s.restart"))


def test_preview_shows_exactly_the_patch_that_is_sent() -> None:
    clock = FakeClock()
    with http_server() as server:
        server.routes[("GET", DEPLOY)] = (200, deployment())
        server.routes[("PATCH", DEPLOY)] = (200, deployment())
        executor = KubernetesExecutor(KubernetesConfig(host=server.url, token=TOKEN), clock)
        preview = ExecutorRegistry([executor]).preview(command("k8s.restart"))
        asyncio.run(executor.execute(command("k8s.restart")))
    planned = preview.calls[-1]
    sent = server.seen[-1]
    assert (planned.method, planned.url, planned.content_type) == (
        sent.method,
        sent.path,
        sent.content_type,
    )
    assert planned.body == sent.json()


def test_bad_targets_and_params_are_refused_before_any_request() -> None:
    executor = KubernetesExecutor(KubernetesConfig(host="http://127.0.0.1:1"), FakeClock())
    with pytest.raises(Refused):
        executor.plan(command("k8s.scale", replicas=-1))
    with pytest.raises(Refused):
        executor.plan(command("k8s.restart", target="a/b/c"))
    with pytest.raises(Refused):
        executor.plan(command("k8s.restart", extra="x"))


@pytest.mark.parametrize("target", ["prod/../secrets", "prod/a?x=1", "Prod/app", "prod/", "a/b/c"])
def test_targets_that_are_not_object_names_are_refused(target: str) -> None:
    executor = KubernetesExecutor(KubernetesConfig(host="http://127.0.0.1:1"), FakeClock())
    with pytest.raises(Refused, match="not namespace/name"):
        executor.plan(command("k8s.restart", target=target))
