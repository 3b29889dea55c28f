"""The global kill switch, kept in the database and told to every remediate worker.

While engaged, approved actions are held in the api (not sent), and workers refuse every
command they receive. Workers hear the switch on `remediation.control`: one message per
partition, keyed so that it lands on that partition; the topic is partitioned like
`remediation.commands`, so each worker hears it on the partitions whose commands it runs.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.remediation.models import KillSwitchRow
from services.core.bus.partitioning import partition_for
from services.core.events import RemediationControl, stable_id
from services.core.topics import REMEDIATION_CONTROL

ROW_ID = 1


def state(session: Session) -> KillSwitchRow:
    """The switch (released when never set)."""
    row = session.scalar(select(KillSwitchRow).where(KillSwitchRow.id == ROW_ID))
    return row or KillSwitchRow(id=ROW_ID, engaged=False, reason="", changed_by="")


def set_state(
    session: Session, *, engaged: bool, reason: str, actor: Principal, now: datetime
) -> KillSwitchRow:
    """Engage or release the switch (audited); a repeat of the current state changes nothing."""
    query = select(KillSwitchRow).where(KillSwitchRow.id == ROW_ID).with_for_update()
    row = session.scalar(query)
    if row is None:
        row = KillSwitchRow(id=ROW_ID, engaged=False, reason="", changed_by="")
        session.add(row)
    if row.engaged == engaged and row.changed_at is not None:
        return row
    row.engaged, row.reason = engaged, reason if engaged else ""
    row.changed_by, row.changed_at = actor.name, now
    audit.record(
        session,
        actor=actor,
        action="remediation.kill_switch." + ("engage" if engaged else "release"),
        target_type="kill_switch",
        target_id=str(ROW_ID),
        detail={"reason": reason},
    )
    return row


@cache
def slots(partitions: int = REMEDIATION_CONTROL.partitions) -> tuple[str, ...]:
    """One key per partition of remediation.control, each landing on its partition."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < partitions:
        key = f"kill-switch-{i}"
        found.setdefault(partition_for(key.encode(), partitions), key)
        i += 1
    return tuple(found[p] for p in range(partitions))


def control_events(row: KillSwitchRow) -> list[RemediationControl]:
    """The switch's state as one control message per partition."""
    at = row.changed_at
    return [
        RemediationControl(
            id=stable_id("kill-switch", slot, row.engaged, at.isoformat() if at else ""),
            kill_switch=row.engaged,
            reason=row.reason,
            by=row.changed_by,
            slot=slot,
            **({"at": at} if at else {}),
        )
        for slot in slots()
    ]
