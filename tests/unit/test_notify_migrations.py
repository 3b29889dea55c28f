"""Revision 0005 (notification channels and deliveries) on SQLite: up with data, the models'
columns and constraints, down with the rest kept. `check_0005_round_trip` is shared with the
PostgreSQL test in tests/integration/test_notify_migrations_pg.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool, text
from sqlalchemy.exc import IntegrityError

import migrations
from services.api.models import Base
from services.core.db import make_engine

TABLES = {"notification_channels", "notification_deliveries"}
CHANNEL = (
    "INSERT INTO notification_channels (id, name, kind, url, secret_token, options, rules,"
    " enabled, created_by, created_at, updated_at) VALUES (:id, 'ops', 'webhook', 'https://h/x',"
    " 'gAAAA-token', '{}', '[]', :on, 'root', :t, :t)"
)


def check_0005_round_trip(url: str) -> None:
    """0004 with an incident -> 0005 (tables, unique names, index) -> models match -> 0004
    (tables gone, incident kept) -> head."""
    engine = make_engine(url, poolclass=pool.NullPool)
    migrations.upgrade(url, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, tenant, service, title, severity, status, opened_at,"
                " updated_at, last_signal_at, signal_count, firing) VALUES ('i1', 'default',"
                " 'checkout', 't', 'warning', 'open', :t, :t, :t, 1, '[]')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url, "0005")
    inspector = inspect(engine)
    assert TABLES <= set(inspector.get_table_names())
    indexes = {i["name"] for i in inspector.get_indexes("notification_deliveries")}
    assert "ix_notification_deliveries_incident_id" in indexes
    with engine.begin() as conn:
        conn.execute(text(CHANNEL), {"id": "c1", "on": True, "t": "2026-01-01 00:00:00"})
        conn.execute(
            text(
                "INSERT INTO notification_deliveries (notification_id, incident_id, channel,"
                " status, attempts, detail, provider_ref, updated_at) VALUES ('n1', 'i1', 'ops',"
                " 'delivered', 1, '', '', :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # names are unique
        conn.execute(text(CHANNEL), {"id": "c2", "on": True, "t": "2026-01-01 00:00:00"})
    migrations.upgrade(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diff if any(t in repr(d) for t in TABLES)]
    assert mine == [], f"notification models and migration 0005 disagree: {mine}"
    migrations.downgrade(url, "0004")
    assert not TABLES & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM incidents")).scalars().all() == ["i1"]
    migrations.upgrade(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0005_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    check_0005_round_trip(f"sqlite:///{tmp_path}/m.db")
