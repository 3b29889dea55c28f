"""Recording signals (anomalies, external alerts) into incidents, idempotently, in batches.

One call handles a batch of signals in the caller's transaction: signal ids already stored are
skipped (a redelivered event changes nothing), silences are loaded once, the open incidents of
each service and its graph neighbours are loaded (and locked on PostgreSQL) once, and every
decision comes from the pure modules `correlation` and `quiet`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.audit.models import AuditRecord
from services.api.auth.principal import CORRELATOR
from services.api.bulk import insert_rows
from services.api.incidents import correlation, quiet, rootcause, topology
from services.api.incidents.correlation import Action, Decision
from services.api.incidents.inputs import (
    PREDICTED,
    IncidentPolicy,
    SignalIn,
    from_alert,
    from_anomaly,
)
from services.api.incidents.models import Incident, Signal, TimelineEntry
from services.api.incidents.service import (
    LABEL_SIGNALS,
    incident_event,
    labels_of,
    merge_labels,
)
from services.api.outbox import OutboxMessage, message_row
from services.api.silences import matching
from services.api.silences.service import rules_between
from services.core.events import (
    Anomaly,
    ExternalAlert,
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    Severity,
    new_id,
    utcnow,
)
from services.core.topics import INCIDENTS

_SEVERITY_RANK = {s.value: i for i, s in enumerate(Severity)}
_LIFECYCLE = (IncidentEventType.OPENED, IncidentEventType.REOPENED, IncidentEventType.RESOLVED)

__all__ = [
    "IncidentPolicy",
    "SignalIn",
    "from_alert",
    "from_anomaly",
    "record_alert",
    "record_anomaly",
    "record_signals",
]


def record_anomaly(
    *, session: Session, anomaly: Anomaly, policy: IncidentPolicy
) -> list[IncidentEvent]:
    """Record one anomaly (see `record_signals`)."""
    return record_signals(session=session, signals=[from_anomaly(anomaly)], policy=policy)


def record_alert(
    *, session: Session, alert: ExternalAlert, policy: IncidentPolicy
) -> list[IncidentEvent]:
    """Record one external alert (see `record_signals`)."""
    return record_signals(session=session, signals=[from_alert(alert)], policy=policy)


def record_signals(
    *, session: Session, signals: Sequence[SignalIn], policy: IncidentPolicy
) -> list[IncidentEvent]:
    """Store signals and update incidents; signals already stored change nothing."""
    if not signals:
        return []
    ids = list({s.id for s in signals})
    seen = set(session.scalars(select(Signal.id).where(Signal.id.in_(ids))))
    rules = rules_between(session, min(s.at for s in signals), max(s.at for s in signals))
    learned = topology.edges_for(
        session, {s.tenant for s in signals}, max_age=policy.topology_max_age
    )
    recorder = _Recorder(session, policy, rules, learned)
    recorder.prefetch(signals)
    events: list[IncidentEvent] = []
    for signal in signals:
        if signal.id in seen:
            continue
        seen.add(signal.id)
        events += recorder.record(signal)
    recorder.write()
    return events


class _Recorder:
    """Applies correlation decisions for one batch, caching the incidents it touched."""

    def __init__(
        self,
        session: Session,
        policy: IncidentPolicy,
        rules: Sequence[matching.SilenceRule],
        learned: dict[str, list[tuple[str, str]]],
    ) -> None:
        self.session = session
        self.policy = policy
        self.rules = rules
        self.learned = learned
        self.policies: dict[str, correlation.CorrelationPolicy] = {}
        self.now = utcnow()
        self.open: dict[tuple[str, str], list[Incident]] = {}
        self.resolved: dict[tuple[str, str], Incident | None] = {}
        # Signals and timeline entries are inserted in bulk at the end (the batch's bulk of
        # rows; going through the unit of work one object at a time costs more than the SQL).
        self.signal_rows: list[dict[str, Any]] = []
        self.timeline_rows: list[dict[str, Any]] = []
        self.outbox_rows: list[dict[str, Any]] = []
        self.audit_rows: list[dict[str, Any]] = []
        self.joined: dict[str, Incident] = {}  # incidents a new service joined: rank again

    def write(self) -> None:
        """Insert the batch's signals and timeline entries (after the incidents they refer to)."""
        self.session.flush()
        insert_rows(self.session, Signal, self.signal_rows)
        for incident in self.joined.values():
            calls = rootcause.calls_of(self._correlation(incident.tenant).graph.edges)
            if ranked := rootcause.rerank(self.session, incident, calls):
                self._note(incident.id, "rca.ranked", CORRELATOR.label, ranked, self.now)
        insert_rows(self.session, TimelineEntry, self.timeline_rows)
        # Incident changes, in the order they happened (the relay publishes by row id).
        insert_rows(self.session, OutboxMessage, self.outbox_rows)
        insert_rows(self.session, AuditRecord, self.audit_rows)

    def _note(
        self, incident_id: str, kind: str, actor: str, detail: dict[str, Any], at: datetime
    ) -> None:
        self.timeline_rows.append(
            {
                "incident_id": incident_id,
                "at": at,
                "kind": kind,
                "actor": actor,
                "detail": detail,
                "event_id": None,
            }
        )

    def record(self, signal: SignalIn) -> list[IncidentEvent]:
        silence = matching.silenced_by(self.rules, signal.labels, signal.at)
        policy = self._correlation(signal.tenant)
        services = {signal.service} | policy.graph.neighbours(signal.service)
        candidates = self._candidates(signal.tenant, services)
        last = None
        if signal.status == "firing" and not any(
            signal.service in (c.services or [c.service]) for c in candidates
        ):
            last = self._last_resolved(signal.tenant, signal.service)
        decision = correlation.correlate(
            correlation.Signal(signal.status, signal.service, signal.fingerprint, signal.at),
            [correlation_view(c) for c in candidates],
            _view(last),
            policy,
        )
        incident = self._target(decision, candidates, last, signal)
        self.signal_rows.append(_signal_row(signal, incident, silence, self.now))
        if incident is None:
            return []
        if incident.labels is None:
            # Recorded before incidents kept their labels: read them from its stored signals
            # (none of this batch's is inserted yet), once; from now on they are kept.
            incident.labels = labels_of(self.session, incident)
        return self._apply(signal, decision, incident, silence)

    def prefetch(self, signals: Sequence[SignalIn]) -> None:
        """Load the open incidents of every service the batch may touch, in one query each."""
        wanted: dict[str, set[str]] = {}
        for s in signals:
            graph = self._correlation(s.tenant).graph
            wanted.setdefault(s.tenant, set()).update({s.service, *graph.neighbours(s.service)})
        for tenant, services in wanted.items():
            self._candidates(tenant, services)
        # Incidents resolved before this cannot be reopened by any signal of the batch.
        since = min(s.at for s in signals) - self.policy.correlation.reopen_window
        for tenant in wanted:
            orphans = {
                s.service
                for s in signals
                if s.tenant == tenant
                and s.status == "firing"
                and not any(
                    s.service in (c.services or [c.service])
                    for c in self._candidates(tenant, {s.service})
                )
            }
            if orphans:
                self._prefetch_resolved(tenant, orphans, since)

    def _prefetch_resolved(self, tenant: str, services: set[str], since: datetime) -> None:
        """The latest incident resolved since `since` of each service (one window query)."""
        ranked = (
            select(
                Incident.id,
                func.row_number()
                .over(partition_by=Incident.service, order_by=Incident.resolved_at.desc())
                .label("rank"),
            )
            .where(Incident.tenant == tenant, Incident.service.in_(sorted(services)))
            .where(Incident.status == IncidentStatus.RESOLVED.value)
            .where(Incident.resolved_at >= since)
            .subquery()
        )
        latest = select(ranked.c.id).where(ranked.c.rank == 1)
        query = select(Incident).where(Incident.id.in_(latest)).with_for_update()
        for service in services:
            self.resolved.setdefault((tenant, service), None)
        with self.session.no_autoflush:
            for incident in self.session.scalars(query):
                self.resolved[(tenant, incident.service)] = incident

    def _correlation(self, tenant: str) -> correlation.CorrelationPolicy:
        """The configured policy, its graph extended with the tenant's learned edges."""
        if tenant not in self.policies:
            base = self.policy.correlation
            edges = self.learned.get(tenant)
            self.policies[tenant] = replace(base, graph=base.graph.union(edges)) if edges else base
        return self.policies[tenant]

    def _target(
        self,
        decision: Decision,
        candidates: list[Incident],
        last: Incident | None,
        signal: SignalIn,
    ) -> Incident | None:
        if decision.action is Action.IGNORE:
            return None
        if decision.action is Action.OPEN:
            incident = _new_incident(signal, self.now)
            self.session.add(incident)
            self.open.setdefault((signal.tenant, signal.service), []).insert(0, incident)
            return incident
        if decision.action is Action.REOPEN:
            assert last is not None and last.id == decision.incident_id
            self.resolved.pop((last.tenant, last.service), None)
            self.open.setdefault((last.tenant, last.service), []).insert(0, last)
            return last
        return next(c for c in candidates if c.id == decision.incident_id)

    def _apply(
        self, signal: SignalIn, decision: Decision, incident: Incident, silence: str | None
    ) -> list[IncidentEvent]:
        action = decision.action
        event_type: IncidentEventType | None = None
        was_firing = bool(incident.firing)
        if action is Action.OPEN:
            event_type = IncidentEventType.OPENED
            incident.silenced = silence is not None
        elif action is Action.REOPEN:
            event_type = IncidentEventType.REOPENED
            incident.status = IncidentStatus.OPEN.value
            incident.resolved_at = None
            incident.recovered_at = None
            incident.silenced = silence is not None
        elif action in (Action.ATTACH, Action.DEDUP):
            event_type = self._attach(signal, incident, silence)
        if signal.service not in (incident.services or []):
            self.joined[incident.id] = incident
        _apply_signal(incident, signal, self.now)
        flipped = action in (Action.OPEN, Action.REOPEN, Action.RESOLVE) or (
            action is Action.ATTACH and not was_firing
        )
        if flipped:
            event_type = self._flip(signal, incident) or event_type
        if action is Action.RESOLVE:
            event_type = self._recovered(signal, incident) or event_type
        if action is not Action.DEDUP:
            detail = {**signal.detail, **({"silenced_by": silence} if silence else {})}
            self._note(incident.id, f"{signal.source}.{signal.status}",
                 "detect" if signal.source != "alert" else signal.labels["source"],
                 detail, self.now)  # fmt: skip
        if event_type is None:
            return []
        if event_type in _LIFECYCLE:
            self._lifecycle_note(incident, event_type, signal)
        actor = CORRELATOR.label
        labels = labels_of(self.session, incident)  # kept on the incident: no query
        event = incident_event(incident, event_type, cause=signal.id, actor=actor, labels=labels)
        self.outbox_rows.append(message_row(INCIDENTS, event))
        return [event]

    def _attach(
        self, signal: SignalIn, incident: Incident, silence: str | None
    ) -> IncidentEventType | None:
        event_type = None
        incident.recovered_at = None  # a firing signal cancels the quiet period
        if _SEVERITY_RANK[signal.severity.value] > _SEVERITY_RANK[incident.severity]:
            incident.severity = signal.severity.value
            event_type = IncidentEventType.UPDATED
        if signal.service not in (incident.services or []):
            event_type = IncidentEventType.UPDATED
        if incident.silenced and silence is None:
            incident.silenced = False  # an unsilenced signal makes the incident notifiable
            event_type = IncidentEventType.UPDATED
        return event_type

    def _flip(self, signal: SignalIn, incident: Incident) -> IncidentEventType | None:
        policy = self.policy.quiet
        stamps = [datetime.fromisoformat(f) for f in incident.flips or []]
        flips = quiet.record_flip(stamps, signal.at, policy)
        incident.flips = [f.isoformat() for f in flips]
        if incident.flapping or not quiet.is_flapping(flips, signal.at, policy):
            return None
        incident.flapping = True
        detail = {"flips": len(flips), "window_s": policy.flap_window.total_seconds()}
        self._note(incident.id, "incident.flapping", CORRELATOR.label, detail, self.now)
        return IncidentEventType.UPDATED

    def _recovered(self, signal: SignalIn, incident: Incident) -> IncidentEventType | None:
        wait = quiet.hold(bool(incident.flapping), self.policy.quiet)
        if wait.total_seconds() > 0:
            incident.recovered_at = signal.at
            detail = {"resolves_after_s": wait.total_seconds(), "flapping": incident.flapping}
            self._note(incident.id, "incident.recovered", CORRELATOR.label, detail,
                 self.now)  # fmt: skip
            return None
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = signal.at
        incident.recovered_at = None
        incident.flapping = False
        key = (incident.tenant, incident.service)
        self.open[key] = [i for i in self.open.get(key, []) if i.id != incident.id]
        self.resolved[key] = incident
        return IncidentEventType.RESOLVED

    def _lifecycle_note(
        self, incident: Incident, event_type: IncidentEventType, signal: SignalIn
    ) -> None:
        detail = {"signal_id": signal.id}
        self._note(incident.id, f"incident.{event_type.value}", CORRELATOR.label,
             detail, self.now)  # fmt: skip
        self.audit_rows.append(
            audit.row(CORRELATOR, f"incident.{event_type.value}", "incident", incident.id, detail)
        )

    def _candidates(self, tenant: str, services: set[str]) -> list[Incident]:
        missing = [s for s in services if (tenant, s) not in self.open]
        if missing:
            query = (
                select(Incident)
                .where(Incident.tenant == tenant, Incident.service.in_(missing))
                .where(Incident.status != IncidentStatus.RESOLVED.value)
                .order_by(Incident.id)
                .with_for_update()
            )
            for service in missing:
                self.open[(tenant, service)] = []
            # No autoflush: this batch's changes live in the caches, and flushing before every
            # lookup would cost a round trip per signal.
            with self.session.no_autoflush:
                found = self.session.scalars(query).all()
            for incident in found:
                self.open[(tenant, incident.service)].append(incident)
            for service in missing:
                self.open[(tenant, service)].sort(key=lambda i: i.opened_at, reverse=True)
        return [i for s in sorted(services) for i in self.open[(tenant, s)]]

    def _last_resolved(self, tenant: str, service: str) -> Incident | None:
        key = (tenant, service)
        if key not in self.resolved:
            query = (
                select(Incident)
                .where(Incident.tenant == tenant, Incident.service == service)
                .where(Incident.status == IncidentStatus.RESOLVED.value)
                .order_by(Incident.resolved_at.desc())
                .limit(1)
                .with_for_update()
            )
            with self.session.no_autoflush:
                self.resolved[key] = self.session.scalars(query).first()
        return self.resolved[key]


def _view(incident: Incident | None) -> correlation.IncidentView | None:
    return None if incident is None else correlation_view(incident)


def correlation_view(incident: Incident) -> correlation.IncidentView:
    """What correlation sees of a stored incident."""
    return correlation.IncidentView(
        incident.id,
        frozenset(incident.firing or ()),
        incident.resolved_at,
        incident.service,
        incident.last_signal_at,
        frozenset(incident.services or ()),
    )


def _new_incident(signal: SignalIn, now: datetime) -> Incident:
    return Incident(
        id=new_id(),
        tenant=signal.tenant,
        service=signal.service,
        title=signal.title[:512],
        severity=signal.severity.value,
        status=IncidentStatus.OPEN.value,
        opened_at=signal.at,
        updated_at=now,
        last_signal_at=signal.at,
        signal_count=0,
        labels={},
        firing=[],
        services=[signal.service],
        flapping=False,
        flips=[],
        silenced=False,
        kind=PREDICTED if signal.kind == PREDICTED else "detected",
    )


def _apply_signal(incident: Incident, signal: SignalIn, now: datetime) -> None:
    firing = set(incident.firing or ())
    if signal.status == "firing":
        firing.add(signal.fingerprint)
    else:
        firing.discard(signal.fingerprint)
    incident.firing = sorted(firing)  # a new list, so SQLAlchemy sees the JSON change
    if signal.kind != PREDICTED and signal.status == "firing":
        incident.kind = "detected"  # the predicted failure is now observed
    if signal.service not in (incident.services or []):
        incident.services = [*(incident.services or []), signal.service]
    if (incident.signal_count or 0) < LABEL_SIGNALS:
        # A new dict, so SQLAlchemy sees the JSON change.
        incident.labels = merge_labels([incident.labels, signal.payload.get("labels")])
    incident.signal_count = (incident.signal_count or 0) + 1
    incident.last_signal_at = max(incident.last_signal_at, signal.at)
    incident.updated_at = now


def _signal_row(
    signal: SignalIn, incident: Incident | None, silence: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "id": signal.id,
        "incident_id": incident.id if incident else None,
        "kind": signal.kind,
        "status": signal.status,
        "service": signal.service,
        "series": signal.fingerprint,
        "score": signal.score,
        "observed_at": signal.at,
        "received_at": now,
        "payload": signal.payload,
        "silenced_by": silence,
    }
