"""Which channels hear about an incident change: rules matching severity, service and labels.

Rules are checked in order; every matching rule adds its channels, unless a matching rule says
`stop`, after which no later rule is consulted (Alertmanager's `continue: false`). A rule with
no matchers matches everything, so a catch-all goes last.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.core.events import Severity

SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}  # info < warning < error < critical


@dataclass(frozen=True)
class RouteRule:
    """Send to `channels` when every given matcher matches (unset matchers match anything)."""

    channels: tuple[str, ...]
    min_severity: Severity | None = None
    services: tuple[str, ...] = ()  # glob patterns, e.g. "payments-*"
    labels: Mapping[str, str] = field(default_factory=dict)  # label -> glob pattern
    event_types: tuple[str, ...] = ()  # e.g. ("opened", "resolved"); empty means all
    stop: bool = False

    def matches(
        self, *, severity: Severity, service: str, labels: Mapping[str, str], event_type: str
    ) -> bool:
        """Whether this rule applies to an incident change with these attributes."""
        if self.min_severity is not None and (
            SEVERITY_ORDER[severity] < SEVERITY_ORDER[self.min_severity]
        ):
            return False
        if self.services and not any(fnmatch.fnmatchcase(service, p) for p in self.services):
            return False
        if self.event_types and event_type not in self.event_types:
            return False
        return all(
            key in labels and fnmatch.fnmatchcase(labels[key], pattern)
            for key, pattern in self.labels.items()
        )


def route(
    rules: Sequence[RouteRule],
    *,
    severity: Severity,
    service: str,
    labels: Mapping[str, str] | None = None,
    event_type: str = "opened",
) -> list[str]:
    """The channels for an incident change, each once, in rule order."""
    chosen: list[str] = []
    for rule in rules:
        if not rule.matches(
            severity=severity, service=service, labels=labels or {}, event_type=event_type
        ):
            continue
        chosen.extend(c for c in rule.channels if c not in chosen)
        if rule.stop:
            break
    return chosen


def rules_from_stored(channel: str, specs: Sequence[Mapping[str, object]]) -> list[RouteRule]:
    """A channel's stored routing rules (see the api's RuleSpec) as RouteRules to it.

    No rules means the channel hears about nothing by routing (it still receives test messages
    and pages addressed to it by name). Invalid entries are skipped: the api validated them.
    """
    rules: list[RouteRule] = []
    for spec in specs:
        severity = spec.get("min_severity")
        labels = spec.get("labels")
        label_map = (
            {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
        )
        try:
            rules.append(
                RouteRule(
                    channels=(channel,),
                    min_severity=Severity(str(severity)) if severity else None,
                    services=tuple(str(s) for s in _strings(spec.get("services"))),
                    labels=label_map,
                    event_types=tuple(str(e) for e in _strings(spec.get("event_types"))),
                )
            )
        except (ValueError, TypeError):
            continue
    return rules


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []
