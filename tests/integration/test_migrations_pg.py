"""Migrations on a real PostgreSQL: upgrade, downgrade, upgrade again, and no model drift."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool

import migrations
from services.api.models import Base
from services.core.db import make_engine


def test_upgrade_downgrade_upgrade_on_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url, poolclass=pool.NullPool)
    migrations.upgrade(pg_url)
    assert {"incidents", "signals", "timeline_entries", "outbox"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree on PostgreSQL: {diff}"
    migrations.downgrade(pg_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(pg_url)
    assert "incidents" in set(inspect(engine).get_table_names())
    engine.dispose()
