"""The service dependency graph learned from traces (`topology` topic), stored for every replica.

Traces workers publish `TopologySnapshot`s (one per tenant and source) to a compacted topic.
The api keeps the latest snapshot of each in the `topology` table: every replica correlates
with the same graph, whichever replica consumed the snapshot. Older or repeated snapshots
change nothing, so redelivery is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.core.db import Base, UTCDateTime
from services.core.events import TopologySnapshot


class TopologyRow(Base):
    """The latest dependency snapshot of one (tenant, source)."""

    __tablename__ = "topology"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # [[caller, callee, last_seen ISO], ...]
    edges: Mapped[list[list[str]]] = mapped_column(JSON, default=list)


def store(session: Session, snapshots: Sequence[TopologySnapshot]) -> int:
    """Keep the newest snapshot per (tenant, source); returns how many rows changed."""
    changed = 0
    for snap in sorted(snapshots, key=lambda s: s.at):
        row = session.get(TopologyRow, (snap.tenant, snap.source), with_for_update=True)
        if row is not None and row.at >= snap.at:
            continue
        edges = [[e.caller, e.callee, e.last_seen.isoformat()] for e in snap.edges]
        if row is None:
            session.add(
                TopologyRow(tenant=snap.tenant, source=snap.source, at=snap.at, edges=edges)
            )
            session.flush()
        else:
            row.at, row.edges = snap.at, edges
        changed += 1
    return changed


def edges_for(
    session: Session, tenants: Iterable[str], *, max_age: timedelta
) -> dict[str, list[tuple[str, str]]]:
    """(caller, callee) edges per tenant that carried traffic within `max_age` of their
    snapshot (measured on the snapshot's clock, so replays and lagging producers agree)."""
    query = select(TopologyRow).where(TopologyRow.tenant.in_(sorted(set(tenants))))
    found: dict[str, list[tuple[str, str]]] = {}
    for row in session.scalars(query):
        for caller, callee, last_seen in row.edges:
            if row.at - datetime.fromisoformat(last_seen) <= max_age:
                found.setdefault(row.tenant, []).append((caller, callee))
    return found
