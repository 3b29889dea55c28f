"""Model management: records from detect, detector versions, shadow runs, promote, rollback.

Every change is one transaction: the versions and the run, an audit record, and the new
desired state on the outbox for `models.control`, which every detect worker reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.learning_models.models import (
    DetectorVersionRow,
    ModelRecord,
    ShadowAnomaly,
    ShadowReportRow,
    ShadowRun,
)
from services.api.outbox import enqueue
from services.core.errors import Conflict, NotFound
from services.core.events import (
    DetectorParams,
    DetectorVersion,
    ModelControl,
    ModelReport,
    ShadowReport,
    new_id,
    stable_id,
    utcnow,
)
from services.core.topics import MODELS_CONTROL

DETECTOR = "metrics"
LIVE, CANDIDATE, RETIRED, ROLLED_BACK, REJECTED = (
    "live",
    "candidate",
    "retired",
    "rolled_back",
    "rejected",
)
RUNNING, PROMOTED, STOPPED = "running", "promoted", "stopped"


# -- records (from detect) ---------------------------------------------------------------------


def record_reports(session: Session, reports: Sequence[ModelReport]) -> int:
    """Upsert the newest report of each series; returns how many rows changed."""
    changed = 0
    now = utcnow()
    for report in reports:
        record_id = stable_id("model", report.tenant, report.series)
        row = session.get(ModelRecord, record_id)
        if row is not None and row.reported_at > report.reported_at:
            continue  # an older report arriving late
        if row is None:
            row = ModelRecord(id=record_id, tenant=report.tenant, series=report.series)
            session.add(row)
        row.service = _service_of(report.series)
        row.model_type = report.model_type
        row.version = report.version
        row.params = dict(report.params)
        row.points = report.points
        row.checkpoint_at = report.checkpoint_at
        row.reported_at = report.reported_at
        row.updated_at = now
        changed += 1
    return changed


def _service_of(series: str) -> str:
    """The `service` label of a series key `name{k="v",...}` ("unknown" without one)."""
    marker = 'service="'
    start = series.find(marker)
    if start < 0:
        return "unknown"
    start += len(marker)
    end = series.find('"', start)
    return series[start:end] if end > start else "unknown"


_TOTALS = (
    "points",
    "live_firings",
    "shadow_firings",
    "both_firing_points",
    "live_only_points",
    "shadow_only_points",
)


def record_shadow(session: Session, reports: Sequence[ShadowReport]) -> int:
    """Keep each worker's newest totals and the shadow's anomalies; unknown runs are skipped."""
    stored = 0
    for report in reports:
        if session.get(ShadowRun, report.shadow_run) is None:
            continue
        row = session.get(ShadowReportRow, (report.shadow_run, report.source))
        if row is None:
            row = ShadowReportRow(run_id=report.shadow_run, source=report.source, points=-1)
            session.add(row)
        if row.points <= report.points:  # totals only grow: a smaller one is older
            for name in _TOTALS:
                setattr(row, name, getattr(report, name))
            row.at = report.at
        # Firings are the news of each report, not totals: an older report still adds its own.
        for anomaly in report.firings:
            if session.get(ShadowAnomaly, anomaly.id) is None:
                session.add(
                    ShadowAnomaly(
                        id=anomaly.id,
                        run_id=report.shadow_run,
                        status=anomaly.status,
                        series=anomaly.series,
                        service=anomaly.service,
                        at=anomaly.timestamp,
                        score=anomaly.score,
                        payload=anomaly.model_dump(mode="json"),
                    )
                )
        session.flush()
        stored += 1
    return stored


def list_records(
    *, session: Session, service: str | None, tenant: str | None, limit: int, offset: int
) -> tuple[Sequence[ModelRecord], int]:
    """Model records, by service and series, filtered; with the total count."""
    query = select(ModelRecord)
    if service:
        query = query.where(ModelRecord.service == service)
    if tenant:
        query = query.where(ModelRecord.tenant == tenant)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ModelRecord.service, ModelRecord.series).limit(limit).offset(offset)
    ).all()
    return rows, total


def get_record(*, session: Session, record_id: str) -> ModelRecord:
    row = session.get(ModelRecord, record_id)
    if row is None:
        raise NotFound(f"no model record {record_id}")
    return row


# -- versions and shadow runs ------------------------------------------------------------------


def list_versions(*, session: Session) -> Sequence[DetectorVersionRow]:
    """Every detector version, newest first (version 0, the built-in default, once written)."""
    return session.scalars(
        select(DetectorVersionRow).order_by(DetectorVersionRow.version.desc())
    ).all()


def _live(session: Session) -> DetectorVersionRow:
    """The live version; the built-in default becomes version 0 on the first change."""
    row = session.scalars(
        select(DetectorVersionRow).where(DetectorVersionRow.status == LIVE)
    ).first()
    if row is not None:
        return row
    row = DetectorVersionRow(
        version=0,
        detector=DETECTOR,
        params=DetectorParams().model_dump(),
        status=LIVE,
        comment="built-in default",
        created_by="vigil",
        created_at=utcnow(),
        promoted_at=None,
    )
    session.add(row)
    session.flush()
    return row


def _running(session: Session) -> ShadowRun | None:
    return session.scalars(select(ShadowRun).where(ShadowRun.status == RUNNING)).first()


def list_runs(*, session: Session) -> Sequence[ShadowRun]:
    """Shadow runs, newest first."""
    return session.scalars(select(ShadowRun).order_by(ShadowRun.started_at.desc())).all()


def get_run(*, session: Session, run_id: str) -> ShadowRun:
    run = session.get(ShadowRun, run_id)
    if run is None:
        raise NotFound(f"no shadow run {run_id}")
    return run


def start_candidate(
    *, session: Session, actor: Principal, params: DetectorParams, comment: str = ""
) -> ShadowRun:
    """Register a candidate version and start scoring it in shadow (one run at a time)."""
    running = _running(session)
    if running is not None:
        raise Conflict(f"shadow run {running.id} is still running: promote or stop it first")
    live = _live(session)
    latest = session.scalar(select(func.max(DetectorVersionRow.version))) or 0
    now = utcnow()
    candidate = DetectorVersionRow(
        version=latest + 1,
        detector=DETECTOR,
        params=params.model_dump(),
        status=CANDIDATE,
        comment=comment,
        created_by=actor.name,
        created_at=now,
    )
    session.add(candidate)
    session.flush()
    run = ShadowRun(
        id=new_id(),
        candidate_version=candidate.version,
        live_version=live.version,
        status=RUNNING,
        started_by=actor.name,
        started_at=now,
    )
    session.add(run)
    session.flush()
    _audit(session, actor, "models.shadow_start", run.id, candidate.version, comment, params)
    _publish(session, live, candidate, run)
    return run


def promote(*, session: Session, actor: Principal, run_id: str, comment: str = "") -> ShadowRun:
    """Make a running shadow's candidate the live version; the old live one is retired."""
    run = _require_running(session, run_id)
    live = _live(session)
    candidate = session.get(DetectorVersionRow, run.candidate_version)
    assert candidate is not None  # the foreign key guarantees it
    now = utcnow()
    live.status = RETIRED
    candidate.status, candidate.promoted_at = LIVE, now
    _end(run, PROMOTED, actor, now)
    session.flush()
    _audit(session, actor, "models.promote", run.id, candidate.version, comment)
    _publish(session, candidate, None, None)
    return run


def stop(*, session: Session, actor: Principal, run_id: str, comment: str = "") -> ShadowRun:
    """Stop a shadow run without promoting it (its candidate is rejected)."""
    run = _require_running(session, run_id)
    candidate = session.get(DetectorVersionRow, run.candidate_version)
    assert candidate is not None
    candidate.status = REJECTED
    _end(run, STOPPED, actor, utcnow())
    session.flush()
    _audit(session, actor, "models.shadow_stop", run.id, candidate.version, comment)
    _publish(session, _live(session), None, None)
    return run


def rollback(
    *, session: Session, actor: Principal, to_version: int | None = None, comment: str = ""
) -> DetectorVersionRow:
    """Go back to an earlier version (default: the one live before the current one).

    A running shadow is stopped: it was being compared with the version being left.
    """
    live = _live(session)
    target = _rollback_target(session, live, to_version)
    now = utcnow()
    running = _running(session)
    if running is not None:
        rejected = session.get(DetectorVersionRow, running.candidate_version)
        if rejected is not None:
            rejected.status = REJECTED
        _end(running, STOPPED, actor, now)
    live.status = ROLLED_BACK
    target.status, target.promoted_at = LIVE, now
    session.flush()
    _audit(session, actor, "models.rollback", None, target.version, comment, was=live.version)
    _publish(session, target, None, None)
    return target


def _rollback_target(
    session: Session, live: DetectorVersionRow, to_version: int | None
) -> DetectorVersionRow:
    if to_version is not None:
        target = session.get(DetectorVersionRow, to_version)
        if target is None:
            raise NotFound(f"no detector version {to_version}")
        if target.version == live.version:
            raise Conflict(f"version {to_version} is already live")
        if target.status in (CANDIDATE,):
            raise Conflict(f"version {to_version} is a running candidate: promote it instead")
        return target
    previous = session.scalars(
        select(DetectorVersionRow)
        .where(DetectorVersionRow.status == RETIRED)
        .order_by(
            DetectorVersionRow.promoted_at.desc().nulls_last(), DetectorVersionRow.version.desc()
        )
    ).first()
    if previous is None:
        raise Conflict("no earlier live version to roll back to")
    return previous


def comparison(*, session: Session, run_id: str, recent: int = 20) -> dict[str, Any]:
    """The run with its workers' totals summed, agreement, and the newest shadow anomalies."""
    run = get_run(session=session, run_id=run_id)
    rows = session.scalars(select(ShadowReportRow).where(ShadowReportRow.run_id == run.id)).all()
    totals = {name: sum(getattr(r, name) for r in rows) for name in _TOTALS}
    either = totals["both_firing_points"] + totals["live_only_points"]
    either += totals["shadow_only_points"]
    anomalies = session.scalar(
        select(func.count()).select_from(ShadowAnomaly).where(ShadowAnomaly.run_id == run.id)
    )
    latest = session.scalars(
        select(ShadowAnomaly)
        .where(ShadowAnomaly.run_id == run.id)
        .order_by(ShadowAnomaly.at.desc(), ShadowAnomaly.id)
        .limit(recent)
    ).all()
    return {
        "run": run,
        "workers": len(rows),
        **totals,
        "agreement": round(totals["both_firing_points"] / either, 4) if either else 1.0,
        "shadow_anomalies": anomalies or 0,
        "recent_shadow_anomalies": [a.payload for a in latest],
    }


def _require_running(session: Session, run_id: str) -> ShadowRun:
    run = get_run(session=session, run_id=run_id)
    if run.status != RUNNING:
        raise Conflict(f"shadow run {run_id} is {run.status}, not running")
    return run


def _end(run: ShadowRun, status: str, actor: Principal, now: Any) -> None:
    run.status, run.ended_by, run.ended_at = status, actor.name, now


def _audit(
    session: Session,
    actor: Principal,
    action: str,
    run_id: str | None,
    version: int,
    comment: str,
    params: DetectorParams | None = None,
    was: int | None = None,
) -> None:
    detail: dict[str, Any] = {"version": version, "comment": comment}
    if run_id is not None:
        detail["shadow_run"] = run_id
    if params is not None:
        detail["params"] = params.model_dump()
    if was is not None:
        detail["from_version"] = was
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="detector_version",
        target_id=str(version),
        detail=detail,
    )


def _publish(
    session: Session,
    live: DetectorVersionRow,
    shadow: DetectorVersionRow | None,
    run: ShadowRun | None,
) -> None:
    """Put the whole desired state on the outbox for `models.control` (compacted, one key)."""
    enqueue(
        session,
        MODELS_CONTROL,
        ModelControl(
            detector=DETECTOR,
            live=_version(live),
            shadow=_version(shadow) if shadow is not None else None,
            shadow_run=run.id if run is not None else None,
        ),
    )


def _version(row: DetectorVersionRow) -> DetectorVersion:
    return DetectorVersion(version=row.version, params=DetectorParams(**row.params))
