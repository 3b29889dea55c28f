"""The demo's remediation loop, seen from the outside: policies set through the API, a
restart approved by its policy (checkout, low risk) and one approved through the API by the
demo's approver (payments, medium risk), executed against the simulated workload, verified.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from services.demo.workload import Workload
from services.remediate.executors.demo import DemoCluster

APPROVER = "demo-approver"

POLICIES: dict[str, dict[str, Any]] = {
    "restart-checkout": {
        "owner": "demo",
        "match": {"services": ["checkout"], "min_severity": "warning"},
        "actions": [{"action": "demo.restart", "target": "{service}", "risk": "low"}],
        "approval": {"auto_approve": True},
    },
    "restart-payments": {
        "owner": "demo",
        "match": {"services": ["payments"], "min_severity": "warning"},
        "actions": [{"action": "demo.restart", "target": "{service}", "risk": "medium"}],
        "approval": {"required": 1, "ttl": "10m"},
    },
}

# How far along an action is, for printing each step once even when polling skips one.
_STEP = {"proposed": 0, "approved": 1, "executing": 1, "succeeded": 2, "verified": 3}
_ENDS = {"rejected", "expired", "failed", "rolled_back"}


class Healer:
    """Restarts of the simulated workloads end the faults injected into them."""

    def __init__(self, cluster: DemoCluster, workload: Workload) -> None:
        self.cluster = cluster
        self.workload = workload
        self.seen = {name: w.restarts for name, w in cluster.workloads.items()}

    def observe(self, tick: int) -> list[str]:
        """What restarts since the last tick healed (one line each)."""
        lines = []
        for name, w in self.cluster.workloads.items():
            if w.restarts != self.seen.get(name, 0):
                self.seen[name] = w.restarts
                ended = self.workload.heal(name, tick)
                what = ", ".join(f.description for f in ended) or "nothing was wrong"
                lines.append(f"restart of {name} at tick {tick}: {what} ends")
        return lines


class DemoOperator:
    """Installs the demo's policies, prints each action's progress, approves what waits."""

    def __init__(
        self,
        admin: httpx.AsyncClient,
        approver: httpx.AsyncClient,
        out: Callable[[str], None],
        stamp: Callable[[], str],
    ) -> None:
        self.admin = admin
        self.approver = approver
        self.out = out
        self.stamp = stamp
        self.printed: dict[str, int] = {}
        self.ended: set[str] = set()
        self.approved_by_api: set[str] = set()

    async def install_policies(self) -> None:
        """PUT the demo's policies through the API."""
        for name, body in POLICIES.items():
            response = await self.admin.put(f"/api/v1/policies/{name}", json=body)
            response.raise_for_status()

    async def actions(self) -> list[dict[str, Any]]:
        """Every action, oldest first."""
        page = await self.admin.get("/api/v1/actions", params={"limit": 500})
        page.raise_for_status()
        return list(reversed(page.json()["items"]))

    async def poll_once(self) -> None:
        """Print new steps; approve (as the demo's approver) what waits for a person."""
        for action in await self.actions():
            self._print_steps(action)
            if action["state"] == "proposed" and action["id"] not in self.approved_by_api:
                self.approved_by_api.add(action["id"])
                response = await self.approver.post(
                    f"/api/v1/actions/{action['id']}/approve",
                    json={"comment": "demo: looks right"},
                )
                if response.status_code != 200:
                    self.out(f"{self.stamp()}   approval refused: {response.json()['detail']}")

    async def run(self, interval_s: float = 0.1) -> None:
        """Poll until cancelled."""
        while True:
            await self.poll_once()
            await asyncio.sleep(interval_s)

    def in_flight(self, actions: list[dict[str, Any]]) -> int:
        """Actions not yet verified or ended."""
        return sum(1 for a in actions if a["state"] not in _ENDS | {"verified"})

    def _print_steps(self, action: dict[str, Any]) -> None:
        key, state = action["id"], action["state"]
        short = f"{key[:8]}  {action['action']} on {action['target']}"
        done = self.printed.get(key, -1)
        for step in range(done + 1, _STEP.get(state, done) + 1):
            self.out(f"{self.stamp()} ACTION {self._line(step, action, short)}")
        self.printed[key] = max(done, _STEP.get(state, done))
        if state in _ENDS and key not in self.ended:
            self.ended.add(key)
            reason = action["verdict"] or action["result_detail"] or state
            self.out(f"{self.stamp()} ACTION {state.upper():9} {short}: {reason}")

    @staticmethod
    def _line(step: int, action: dict[str, Any], short: str) -> str:
        if step == 0:
            return f"PROPOSED  {short} (risk {action['risk']}, policy {action['policy']})"
        if step == 1:
            who = ", ".join(action["approved_by"])
            how = "by its policy" if action["auto_approved"] else f"by {who} via the API"
            return f"APPROVED  {short} {how}"
        if step == 2:
            return f"EXECUTED  {short} against the demo target: {action['result_detail']}"
        return f"VERIFIED  {short}: {action['verdict']}"
