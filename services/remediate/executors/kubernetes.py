"""Kubernetes actions through the official client: restart, scale, roll back, delete a pod.

Only workloads that opt in are touched: the deployment (or pod) must carry the annotation
`vigil.dev/remediation: "enabled"`, read with a GET before anything changes. Targets are
`namespace/name` (a bare name means the `default` namespace).

Wire formats, as `kubectl` sends them:
- restart: strategic-merge PATCH of the deployment setting
  `spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]` (RFC 3339);
- scale: merge PATCH of the `deployments/<name>/scale` subresource with `spec.replicas`;
- rollback: list the ReplicaSets the deployment owns, take the one with the highest
  `deployment.kubernetes.io/revision` below the current one, and JSON-patch `/spec/template`
  to its template (minus `pod-template-hash`), like `kubectl rollout undo`. A JSON patch
  replaces the template; a strategic merge would keep containers and env added since;
- delete a pod: DELETE on the pod.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field
from urllib3.exceptions import HTTPError as TransportError

from services.core.events import RemediationCommand
from services.remediate.clock import Clock
from services.remediate.errors import ExecutorError, Refused
from services.remediate.executors.base import (
    Executor,
    Outcome,
    PlannedCall,
    RollbackPlan,
    parse_params,
)

OPT_IN_ANNOTATION = "vigil.dev/remediation"
OPT_IN_VALUE = "enabled"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True)
class KubernetesConfig:
    """Where the API server is and how to authenticate (a service-account token)."""

    host: str
    token: str = ""
    verify_ssl: bool = True
    ca_cert: str | None = None
    timeout_s: float = 10.0


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScaleParams(_Params):
    replicas: int = Field(ge=0)


class RollbackParams(_Params):
    to_revision: int | None = Field(default=None, ge=1)


class DeletePodParams(_Params):
    grace_period_seconds: int | None = Field(default=None, ge=0)


class NoParams(_Params):
    pass


_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def split_target(target: str) -> tuple[str, str]:
    """`namespace/name` -> (namespace, name); a bare name lives in `default`."""
    namespace, _, name = target.rpartition("/")
    namespace = namespace or "default"
    if not (_DNS_NAME.match(namespace) and _DNS_NAME.match(name)) or ".." in target:
        raise Refused(f"target {target!r} is not namespace/name (Kubernetes object names)")
    return namespace, name


def deployment_path(namespace: str, name: str) -> str:
    """API path of a deployment."""
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


def pod_path(namespace: str, name: str) -> str:
    """API path of a pod."""
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def restart_body(at: datetime) -> dict[str, Any]:
    """The strategic-merge patch `kubectl rollout restart` sends."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def scale_body(replicas: int) -> dict[str, Any]:
    """The merge patch of the scale subresource."""
    return {"spec": {"replicas": replicas}}


def rollback_body(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch replacing the pod template with an older ReplicaSet's."""
    template = copy.deepcopy(template)
    labels = template.get("metadata", {}).get("labels", {})
    labels.pop("pod-template-hash", None)
    return [{"op": "replace", "path": "/spec/template", "value": template}]


def previous_replica_set(
    deployment: dict[str, Any], replica_sets: list[dict[str, Any]], to_revision: int | None
) -> tuple[int, int, dict[str, Any]]:
    """(current revision, chosen revision, its ReplicaSet) among those the deployment owns."""
    uid = deployment["metadata"].get("uid")
    current = int(deployment["metadata"].get("annotations", {}).get(REVISION, "0"))
    owned: dict[int, dict[str, Any]] = {}
    for rs in replica_sets:
        owners = rs.get("metadata", {}).get("ownerReferences", [])
        if not any(o.get("uid") == uid and o.get("kind") == "Deployment" for o in owners):
            continue
        revision = rs["metadata"].get("annotations", {}).get(REVISION)
        if revision is not None and revision.isdigit():
            owned[int(revision)] = rs
    if to_revision is not None:
        wanted = to_revision
    else:
        older = [r for r in owned if r < current]
        if not older:
            raise Refused(f"no revision before {current} to roll back to")
        wanted = max(older)
    if wanted not in owned or wanted == current:
        raise Refused(f"revision {wanted} is not a previous revision of this deployment")
    return current, wanted, owned[wanted]


def label_selector(deployment: dict[str, Any]) -> str:
    """The deployment's matchLabels as a label selector string."""
    labels = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def require_opt_in(kind: str, obj: dict[str, Any]) -> None:
    """Refuse unless the object carries the opt-in annotation."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    if annotations.get(OPT_IN_ANNOTATION) != OPT_IN_VALUE:
        name = obj.get("metadata", {}).get("name", "?")
        raise Refused(f'{kind} {name} has not opted in ({OPT_IN_ANNOTATION}: "{OPT_IN_VALUE}")')


class KubernetesExecutor(Executor):
    """Deployment and pod actions on opted-in workloads."""

    actions = ("k8s.restart", "k8s.scale", "k8s.rollback", "k8s.delete_pod")

    def __init__(self, config: KubernetesConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    def plan(self, command: RemediationCommand) -> list[PlannedCall]:
        """The requests an action sends, in order."""
        ns, name = split_target(command.target)
        if command.action == "k8s.delete_pod":
            parse_params(DeletePodParams, command)
            path = pod_path(ns, name)
            return [
                PlannedCall("GET", path, purpose="check the opt-in annotation"),
                PlannedCall("DELETE", path, purpose="delete the pod"),
            ]
        path = deployment_path(ns, name)
        check = PlannedCall("GET", path, purpose="check the opt-in annotation")
        if command.action == "k8s.restart":
            parse_params(NoParams, command)
            body = restart_body(self.clock.now())
            return [check, PlannedCall("PATCH", path, STRATEGIC_MERGE, body=body)]
        if command.action == "k8s.scale":
            replicas = parse_params(ScaleParams, command).replicas
            scale = PlannedCall("PATCH", f"{path}/scale", MERGE_PATCH, body=scale_body(replicas))
            return [check, scale]
        if command.action == "k8s.rollback":
            parse_params(RollbackParams, command)
            rs_path = f"/apis/apps/v1/namespaces/{ns}/replicasets"
            return [
                check,
                PlannedCall("GET", rs_path, purpose="list ReplicaSets matching the selector"),
                PlannedCall(
                    "PATCH",
                    path,
                    JSON_PATCH,
                    purpose="replace /spec/template with the previous revision's template",
                ),
            ]
        raise Refused(f"unknown Kubernetes action {command.action!r}")

    async def execute(self, command: RemediationCommand) -> Outcome:
        """Run the action in a thread (the official client is synchronous)."""
        calls = self.plan(command)
        return await asyncio.to_thread(self._run, command, calls)

    def rollback(self, command: RemediationCommand, output: dict[str, Any]) -> RollbackPlan | None:
        """Scaling is undone by scaling back; a rollout by rolling back to the old revision."""
        if command.action == "k8s.scale" and isinstance(output.get("previous_replicas"), int):
            params = {"replicas": output["previous_replicas"]}
            return RollbackPlan("k8s.scale", command.target, params)
        if command.action == "k8s.restart":
            return None  # a restart changes no spec; there is nothing to restore
        return None

    # -- I/O ---------------------------------------------------------------------------------

    def _api_client(self) -> k8s.ApiClient:
        cfg = k8s.Configuration(host=self.config.host)
        if self.config.token:
            cfg.api_key = {"BearerToken": self.config.token}
            cfg.api_key_prefix = {"BearerToken": "Bearer"}
        cfg.verify_ssl = self.config.verify_ssl
        if self.config.ca_cert:
            cfg.ssl_ca_cert = self.config.ca_cert
        return k8s.ApiClient(cfg)

    def _run(self, command: RemediationCommand, calls: list[PlannedCall]) -> Outcome:
        ns, name = split_target(command.target)
        with self._api_client() as api_client:
            try:
                if command.action == "k8s.delete_pod":
                    return self._delete_pod(k8s.CoreV1Api(api_client), command, ns, name)
                apps = k8s.AppsV1Api(api_client)
                deployment = _json(
                    apps.read_namespaced_deployment(
                        name, ns, _preload_content=False, _request_timeout=self.config.timeout_s
                    )
                )
                require_opt_in("deployment", deployment)
                if command.action == "k8s.rollback":
                    return self._rollback(apps, command, deployment, ns, name)
                return self._patch(apps, command.action, deployment, calls[1], ns, name)
            except ApiException as exc:
                raise _translate(exc, command) from exc
            except TransportError as exc:
                raise ExecutorError(f"API server unreachable: {exc}") from exc

    def _delete_pod(
        self, core: k8s.CoreV1Api, command: RemediationCommand, ns: str, name: str
    ) -> Outcome:
        timeout = self.config.timeout_s
        pod = _json(
            core.read_namespaced_pod(name, ns, _preload_content=False, _request_timeout=timeout)
        )
        require_opt_in("pod", pod)
        core.delete_namespaced_pod(
            name,
            ns,
            grace_period_seconds=parse_params(DeletePodParams, command).grace_period_seconds,
            _preload_content=False,
            _request_timeout=timeout,
        )
        return Outcome(True, f"deleted pod {ns}/{name}", {"uid": _uid(pod)})

    def _patch(
        self,
        apps: k8s.AppsV1Api,
        action: str,
        deployment: dict[str, Any],
        call: PlannedCall,
        ns: str,
        name: str,
    ) -> Outcome:
        """Send the planned PATCH of a restart or a scale, exactly as planned."""
        timeout = self.config.timeout_s
        if action == "k8s.restart":
            apps.patch_namespaced_deployment(
                name,
                ns,
                call.body,
                _content_type=call.content_type,
                _preload_content=False,
                _request_timeout=timeout,
            )
            stamp = call.body["spec"]["template"]["metadata"]["annotations"]
            return Outcome(True, f"restarted deployment {ns}/{name}", dict(stamp))
        previous = deployment.get("spec", {}).get("replicas", 1)
        apps.patch_namespaced_deployment_scale(
            name,
            ns,
            call.body,
            _content_type=call.content_type,
            _preload_content=False,
            _request_timeout=timeout,
        )
        replicas = call.body["spec"]["replicas"]
        detail = f"scaled deployment {ns}/{name} from {previous} to {replicas}"
        return Outcome(True, detail, {"previous_replicas": previous})

    def _rollback(
        self,
        apps: k8s.AppsV1Api,
        command: RemediationCommand,
        deployment: dict[str, Any],
        ns: str,
        name: str,
    ) -> Outcome:
        listed = _json(
            apps.list_namespaced_replica_set(
                ns,
                label_selector=label_selector(deployment),
                _preload_content=False,
                _request_timeout=self.config.timeout_s,
            )
        )
        to_revision = parse_params(RollbackParams, command).to_revision
        current, wanted, rs = previous_replica_set(deployment, listed.get("items", []), to_revision)
        apps.patch_namespaced_deployment(
            name,
            ns,
            rollback_body(rs["spec"]["template"]),
            _content_type=JSON_PATCH,
            _preload_content=False,
            _request_timeout=self.config.timeout_s,
        )
        detail = f"rolled deployment {ns}/{name} back from revision {current} to {wanted}"
        return Outcome(True, detail, {"from_revision": current, "to_revision": wanted})


def _json(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.data)
    return data


def _uid(obj: dict[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("uid", ""))


def _translate(exc: ApiException, command: RemediationCommand) -> ExecutorError:
    status = exc.status or 0
    what = f"{command.action} on {command.target}"
    if status == 404:
        return Refused(f"{what}: not found")
    if status in (401, 403):
        return ExecutorError(f"{what}: the API server refused our credentials ({status})")
    return ExecutorError(f"{what}: API server answered {status} {exc.reason or ''}".strip())
