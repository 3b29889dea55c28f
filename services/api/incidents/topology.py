"""The service dependency graph learned from traces (`topology` topic), stored for every replica.

Traces workers publish `TopologySnapshot`s (one per tenant and source) to a compacted topic.
The api keeps the latest snapshot of each in the `topology` table: every replica correlates
with the same graph, whichever replica consumed the snapshot. Older or repeated snapshots
change nothing, so redelivery is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
    # [[caller, callee, last_seen ISO, calls, errors], ...] (rows stored before calls and
    # errors were kept have only the first three)
    edges: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)


def store(session: Session, snapshots: Sequence[TopologySnapshot]) -> int:
    """Keep the newest snapshot per (tenant, source); returns how many rows changed."""
    changed = 0
    for snap in sorted(snapshots, key=lambda s: s.at):
        row = session.get(TopologyRow, (snap.tenant, snap.source), with_for_update=True)
        if row is not None and row.at >= snap.at:
            continue
        edges: list[list[Any]] = [
            [e.caller, e.callee, e.last_seen.isoformat(), e.calls, e.errors] for e in snap.edges
        ]
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
        for caller, callee, last_seen, *_ in row.edges:
            if row.at - datetime.fromisoformat(last_seen) <= max_age:
                found.setdefault(row.tenant, []).append((caller, callee))
    return found


@dataclass(frozen=True)
class Edge:
    """One caller -> callee dependency, merged over every source that saw it."""

    caller: str
    callee: str
    calls: int
    errors: int
    last_seen: datetime


def merged_graph(session: Session, *, tenant: str, max_age: timedelta) -> list[Edge]:
    """The tenant's current dependency edges: every source's latest snapshot merged (calls and
    errors summed, the latest `last_seen` kept), edges older than `max_age` dropped."""
    merged: dict[tuple[str, str], Edge] = {}
    for row in session.scalars(select(TopologyRow).where(TopologyRow.tenant == tenant)):
        for caller, callee, last_seen, *traffic in row.edges:
            seen = datetime.fromisoformat(last_seen)
            if row.at - seen > max_age:
                continue
            calls, errors = (int(traffic[0]), int(traffic[1])) if len(traffic) >= 2 else (0, 0)
            old = merged.get((caller, callee))
            if old is not None:
                calls, errors = calls + old.calls, errors + old.errors
                seen = max(seen, old.last_seen)
            merged[(caller, callee)] = Edge(caller, callee, calls, errors, seen)
    return sorted(merged.values(), key=lambda e: (e.caller, e.callee))
