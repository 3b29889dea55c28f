"""Revision 0007 (model records, detector versions, shadow runs) on SQLite: up, down, data kept.

`check_0007_round_trip` is shared with the PostgreSQL test in tests/integration.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool, text

import migrations
from services.api.models import Base
from services.core.db import make_engine

TABLES = {
    "model_records",
    "detector_versions",
    "shadow_runs",
    "shadow_reports",
    "shadow_anomalies",
}


def check_0007_round_trip(url: str) -> None:
    """0006 with an incident -> 0007 (tables writable, models match) -> 0006 (kept) -> head."""
    engine = make_engine(url, poolclass=pool.NullPool)
    migrations.upgrade(url, "0006")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, target_type, detail)"
                " VALUES (:t, 'alice', 'x', 'y', '{}')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url, "0007")
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        params = {"t": "2026-01-01 00:00:00"}
        conn.execute(
            text(
                "INSERT INTO detector_versions (version, detector, params, status, comment,"
                " created_by, created_at) VALUES (1, 'metrics', '{}', 'candidate', '', 'a', :t)"
            ),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO shadow_runs (id, candidate_version, live_version, status,"
                " started_by, started_at) VALUES ('r1', 1, 0, 'running', 'a', :t)"
            ),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO shadow_reports (run_id, source, points, live_firings,"
                " shadow_firings, both_firing_points, live_only_points, shadow_only_points, at)"
                " VALUES ('r1', 'w1', 10, 1, 2, 3, 4, 5, :t)"
            ),
            params,
        )
    migrations.upgrade(url)  # later revisions change other tables: compare the models at head
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    migrations.downgrade(url, "0006")
    assert not TABLES & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["alice"]
    migrations.upgrade(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0007_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    check_0007_round_trip(f"sqlite:///{tmp_path}/m.db")
