"""After an action was sent: worker results, verification (and its follow-up), success rates.

A result moves the action to succeeded or failed (the timeline entry itself is recorded from
the same event by incidents/activity.py). A succeeded action is then verified against the
incident's signals (`services/remediate/verification.py`): verified resolves the incident;
a failure rolls back where the executor can (a new command, `rollback-<action id>`) and
escalates either way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.incidents import service as incidents
from services.api.incidents.lifecycle import Command
from services.api.incidents.models import Incident, Signal
from services.api.outbox import enqueue
from services.api.remediation import killswitch
from services.api.remediation.context import RemediationContext
from services.api.remediation.models import RemediationAction
from services.api.remediation.store import SYSTEM, approval_of, save
from services.core.events import (
    Event,
    IncidentStatus,
    Notification,
    RemediationCommand,
    RemediationResult,
    stable_id,
)
from services.core.topics import NOTIFICATIONS, REMEDIATION_COMMANDS
from services.remediate.approvals import ApprovalState
from services.remediate.verification import (
    SignalChange,
    SuccessStats,
    VerdictStatus,
    VerificationVerdict,
    evaluate,
    follow_up,
)


def apply_results(*, session: Session, events: Sequence[Event]) -> list[str]:
    """Move executing actions to succeeded / failed; returns the incidents touched."""
    results = [e for e in events if isinstance(e, RemediationResult)]
    if not results:
        return []
    ids = {r.command_id for r in results}
    rows = {
        row.id: row
        for row in session.scalars(
            select(RemediationAction).where(RemediationAction.id.in_(ids)).with_for_update()
        )
    }
    touched = []
    for result in results:
        row = rows.get(result.command_id)
        if row is None or row.state != ApprovalState.EXECUTING.value:
            continue  # a rollback command, a replay, or an action of another database
        approval = approval_of(session, row)
        succeeded = result.status == "succeeded"
        approval.finish(succeeded=succeeded, at=result.finished_at, detail=result.detail)
        row.result_status = result.status
        row.result_detail = result.detail[:2000]
        row.result_output = result.output
        row.acted_at = result.started_at or result.finished_at
        row.finished_at = result.finished_at
        save(session, row, approval, via="system", now=result.finished_at)
        touched.append(row.incident_id)
    return touched


def _changes(session: Session, incident_id: str) -> list[SignalChange]:
    rows = session.execute(
        select(Signal.series, Signal.observed_at, Signal.status).where(
            Signal.incident_id == incident_id
        )
    ).all()
    return [SignalChange(series, at, status == "firing") for series, at, status in rows]


def verify(
    *,
    session: Session,
    ctx: RemediationContext,
    now: datetime,
    incident_ids: Collection[str] | None = None,
    limit: int = 200,
) -> int:
    """Verify succeeded actions (of these incidents, or all); returns how many concluded."""
    query = select(RemediationAction).where(
        RemediationAction.state == ApprovalState.SUCCEEDED.value
    )
    if incident_ids is not None:
        query = query.where(RemediationAction.incident_id.in_(sorted(incident_ids)))
    query = query.order_by(RemediationAction.finished_at).limit(limit)
    concluded = 0
    for row in session.scalars(query.with_for_update(skip_locked=True)):
        incident = session.get(Incident, row.incident_id)
        if incident is None:
            continue
        verdict = evaluate(
            acted_at=row.acted_at or row.updated_at,
            now=now,
            changes=_changes(session, incident.id),
            window=ctx.verify_window,
            settle=ctx.verify_settle,
            incident_resolved=incident.status == IncidentStatus.RESOLVED.value,
        )
        if verdict.status is VerdictStatus.WATCHING:
            continue
        row.verdict = verdict.reason[:2000]
        if verdict.status is VerdictStatus.VERIFIED:
            _verified(session, row, incident, verdict.reason, now)
        else:
            _unverified(session, ctx, row, verdict.reason, verdict, now)
        concluded += 1
    return concluded


def _verified(
    session: Session, row: RemediationAction, incident: Incident, reason: str, now: datetime
) -> None:
    approval = approval_of(session, row)
    approval.verified(now, reason)
    save(session, row, approval, via="system", now=now)
    audit.record(
        session, actor=SYSTEM, action="remediation.verified", target_type="action",
        target_id=row.id, detail={"reason": reason},
    )  # fmt: skip
    if incident.status != IncidentStatus.RESOLVED.value:
        note = f"{row.action} on {row.target} verified: {reason}"
        incidents.act(
            session=session, incident_id=incident.id, command=Command.RESOLVE, actor=SYSTEM,
            note_text=note,
        )  # fmt: skip


def _unverified(
    session: Session,
    ctx: RemediationContext,
    row: RemediationAction,
    reason: str,
    verdict: VerificationVerdict,
    now: datetime,
) -> None:
    approval = approval_of(session, row)
    command = approval.proposal  # the original action, to compute its rollback
    sent = RemediationCommand(
        id=row.id, incident_id=row.incident_id, request_id=row.id, action=command.action,
        target=command.target, params=dict(command.params), approved_by=list(row.approved_by),
    )  # fmt: skip
    plan = follow_up(verdict, sent, dict(row.result_output or {}), ctx.registry)
    rollback = plan.rollback if plan else None
    engaged = killswitch.state(session).engaged
    detail = plan.reason if plan else reason
    if rollback is not None and not engaged:
        enqueue(
            session,
            REMEDIATION_COMMANDS,
            RemediationCommand(
                id=f"rollback-{row.id}", incident_id=row.incident_id, request_id=row.id,
                action=rollback.action, target=rollback.target, params=rollback.params,
                approved_by=["verification"],
            ),
        )  # fmt: skip
        approval.rolled_back(now, detail)
    else:
        approval.unverified(now, detail + ("; kill switch engaged" if rollback else ""))
    save(session, row, approval, via="system", now=now)
    enqueue(
        session,
        NOTIFICATIONS,
        Notification(
            id=stable_id("verification-failed", row.id),
            channel=row.escalate_to or row.owner or ctx.escalation_channel,
            incident_id=row.incident_id,
            event_type="remediation.verification_failed",
            payload={"action_id": row.id, "action": row.action, "target": row.target,
                     "detail": detail},
        ),
    )  # fmt: skip
    audit.record(
        session, actor=SYSTEM, action="remediation.unverified", target_type="action",
        target_id=row.id, detail={"reason": detail, "rolled_back": rollback is not None},
    )  # fmt: skip


def success_rates(session: Session) -> list[dict[str, Any]]:
    """Attempts, outcomes and the success rate per (runbook, incident kind)."""
    rows = session.execute(
        select(
            RemediationAction.action,
            RemediationAction.incident_kind,
            RemediationAction.state,
            RemediationAction.result_status,
            func.count(),
        )
        .where(RemediationAction.sent_at.is_not(None))
        .group_by(
            RemediationAction.action,
            RemediationAction.incident_kind,
            RemediationAction.state,
            RemediationAction.result_status,
        )
    ).all()
    stats = SuccessStats()
    for action, kind, state, result, count in rows:
        outcomes = ["attempt"]
        if result == "succeeded":
            outcomes.append("succeeded")
        elif result is not None:
            outcomes.append("failed")
        if state == ApprovalState.VERIFIED.value:
            outcomes.append("verified")
        elif state == ApprovalState.ROLLED_BACK.value:
            outcomes.append("rolled_back")
        for outcome in outcomes:
            for _ in range(count):
                stats.record(action, kind, outcome)
    return stats.rows()
