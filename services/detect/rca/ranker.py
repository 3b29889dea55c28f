"""Rank the likely root causes of services turning anomalous together. Pure domain.

Failures travel up the call graph: a slow or failing callee makes its callers slow or failing,
not the other way round. So among the anomalous services of an incident:

- a service with an anomalous (transitive) callee whose anomaly started no later than its own
  (give or take `slack_s` for detection jitter) is *explained* by that callee;
- a service that is not explained, and explains many others, is a likely root cause;
- ties go to the service that turned anomalous first.

A healthy-looking callee of anomalous services (a dependency that sends no telemetry while it
is down, say) is a weaker candidate: it ranks after every unexplained anomalous service, by how
many anomalous services reach it.

Examples
--------
>>> calls = {"frontend": ["checkout"], "checkout": ["payments"]}
>>> seen = [Symptom("frontend", 20.0), Symptom("checkout", 12.0), Symptom("payments", 10.0)]
>>> [cause.service for cause in rank(calls, seen)]
['payments', 'checkout', 'frontend']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Symptom:
    """An anomalous service of the incident and when its first anomaly started (unix s)."""

    service: str
    first_at: float
    score: float = 1.0


@dataclass(frozen=True)
class Cause:
    """A ranked root-cause candidate, with a score in [0, 1] and a readable reason."""

    service: str
    score: float
    reason: str
    anomalous: bool = True

    def as_dict(self) -> dict[str, object]:
        """Plain data, as attached to an incident."""
        return {
            "service": self.service,
            "score": round(self.score, 4),
            "reason": self.reason,
            "anomalous": self.anomalous,
        }


def _downstream(calls: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every service reachable from `start` by following calls (not including `start`)."""
    seen: set[str] = set()
    stack = list(calls.get(start, ()))
    while stack:
        service = stack.pop()
        if service in seen or service == start:
            continue
        seen.add(service)
        stack.extend(calls.get(service, ()))
    return seen


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def rank(
    calls: Mapping[str, Iterable[str]],
    symptoms: Sequence[Symptom],
    *,
    slack_s: float = 60.0,
) -> list[Cause]:
    """Root-cause candidates, most likely first (see the module docstring)."""
    first: dict[str, float] = {}
    for symptom in symptoms:
        first[symptom.service] = min(first.get(symptom.service, symptom.first_at), symptom.first_at)
    if not first:
        return []
    below = {service: _downstream(calls, service) for service in first}
    earliest, latest = min(first.values()), max(first.values())
    span = max(latest - earliest, 1e-9)
    total = len(first)
    causes: list[Cause] = []
    for service, at in first.items():
        explained_by = sorted(d for d in below[service] & first.keys() if first[d] <= at + slack_s)
        explains = sorted(
            u for u in first if u != service and service in below[u] and at <= first[u] + slack_s
        )
        reach = (1 + len(explains)) / total
        score = 0.45 * reach + 0.15 * (1 - (at - earliest) / span)
        if not explained_by:
            score += 0.4
            reason = f"anomalous from {_clock(at)} with no anomalous dependency of its own"
        else:
            reason = f"anomalous from {_clock(at)}, explained by {', '.join(explained_by)}"
        if explains:
            reason += f"; explains {', '.join(explains)}"
        causes.append(Cause(service, min(1.0, score), reason))
    causes.extend(_silent_dependencies(calls, first, below, total))
    causes.sort(key=lambda c: (-c.score, first.get(c.service, latest + 1), c.service))
    return causes


def _silent_dependencies(
    calls: Mapping[str, Iterable[str]],
    first: Mapping[str, float],
    below: Mapping[str, set[str]],
    total: int,
) -> list[Cause]:
    """Callees of anomalous services that show no anomaly themselves."""
    direct: dict[str, list[str]] = {}
    for service in first:
        for callee in calls.get(service, ()):
            if callee not in first:
                direct.setdefault(callee, []).append(service)
    out = []
    for callee, callers in direct.items():
        reached = sum(1 for service in first if callee in below[service])
        if any(d in first for d in _downstream(calls, callee)):
            continue  # something below it is anomalous and explains better
        out.append(
            Cause(
                callee,
                0.35 * reached / total,
                f"no anomaly seen, but called by anomalous {', '.join(sorted(callers))}",
                anomalous=False,
            )
        )
    return out
