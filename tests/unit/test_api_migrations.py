"""Revisions 0002 (keys, silences, feedback, audit, lifecycle) and 0003 (incident root causes)
on SQLite: up, down, data kept.

`check_0002_round_trip` and `check_0003_round_trip` are shared with the PostgreSQL tests in
tests/integration.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool, text

import migrations
from services.api.models import Base
from services.core.db import make_engine

NEW_TABLES = {"api_keys", "audit_log", "silences", "feedback", "topology"}
NEW_INCIDENT_COLUMNS = {
    "services", "assignee", "acknowledged_at", "recovered_at", "flapping", "flips", "silenced"
}  # fmt: skip


def check_0002_round_trip(url: str) -> None:
    """0001 with data -> 0002 (data kept, backfilled) -> models match -> 0001 -> base -> head."""
    engine = make_engine(url, poolclass=pool.NullPool)
    migrations.upgrade(url, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, tenant, service, title, severity, status, opened_at,"
                " updated_at, last_signal_at, signal_count, firing) VALUES ('i1', 'default',"
                " 'checkout', 't', 'warning', 'open', :t, :t, :t, 1, '[]')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url, "0002")
    inspector = inspect(engine)
    assert NEW_TABLES <= set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("incidents")}
    assert NEW_INCIDENT_COLUMNS <= columns
    with engine.connect() as conn:
        row = conn.execute(text("SELECT services, flapping, silenced FROM incidents")).one()
    assert "checkout" in str(row[0]) and not row[1] and not row[2]
    migrations.upgrade(url)  # the models describe the head revision
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    migrations.downgrade(url, "0001")
    inspector = inspect(engine)
    assert not NEW_TABLES & set(inspector.get_table_names())
    assert not NEW_INCIDENT_COLUMNS & {c["name"] for c in inspector.get_columns("incidents")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM incidents")).scalars().all() == ["i1"]
    migrations.downgrade(url, "base")
    migrations.upgrade(url)
    assert NEW_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0002_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    check_0002_round_trip(f"sqlite:///{tmp_path}/m.db")


def check_0003_round_trip(url: str) -> None:
    """0002 with an incident -> 0003 (root_causes null, writable) -> 0002 (data kept) -> head."""
    engine = make_engine(url, poolclass=pool.NullPool)
    migrations.upgrade(url, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, tenant, service, title, severity, status, opened_at,"
                " updated_at, last_signal_at, signal_count, firing, services, flapping, flips,"
                " silenced) VALUES ('i3', 'default', 'checkout', 't', 'warning', 'open', :t, :t,"
                " :t, 1, '[]', '[\"checkout\"]', false, '[]', false)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url, "0003")
    assert "root_causes" in {c["name"] for c in inspect(engine).get_columns("incidents")}
    with engine.begin() as conn:
        assert conn.execute(text("SELECT root_causes FROM incidents")).scalar_one() is None
        conn.execute(text("""UPDATE incidents SET root_causes = '[{"service": "db"}]'"""))
    migrations.downgrade(url, "0002")
    assert "root_causes" not in {c["name"] for c in inspect(engine).get_columns("incidents")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM incidents")).scalars().all() == ["i3"]
    migrations.upgrade(url)  # the models describe the head revision, not 0003
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()


def test_0003_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    check_0003_round_trip(f"sqlite:///{tmp_path}/m.db")
