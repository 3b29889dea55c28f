"""Revision 0006 (predictions, incident kind) on SQLite: up, down, data kept.

`check_0006_round_trip` is shared with the PostgreSQL test in tests/integration.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool, text

import migrations
from services.api.models import Base
from services.core.db import make_engine


def check_0006_round_trip(url: str) -> None:
    """0005 with an incident -> 0006 (kind "detected", predictions writable) -> 0005 -> head."""
    engine = make_engine(url, poolclass=pool.NullPool)
    migrations.upgrade(url, "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, tenant, service, title, severity, status, opened_at,"
                " updated_at, last_signal_at, signal_count, firing, services, flapping, flips,"
                " silenced) VALUES ('i6', 'default', 'checkout', 't', 'warning', 'open', :t, :t,"
                " :t, 1, '[]', '[\"checkout\"]', false, '[]', false)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url, "0006")
    assert "predictions" in inspect(engine).get_table_names()
    with engine.begin() as conn:
        assert conn.execute(text("SELECT kind FROM incidents")).scalar_one() == "detected"
        conn.execute(
            text(
                "INSERT INTO predictions (id, tenant, service, kind, probability, at,"
                " received_at, detail) VALUES ('p1', 'default', 'checkout', 'failure', 0.9,"
                " :t, :t, '{}')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    migrations.downgrade(url, "0005")
    inspector = inspect(engine)
    assert "predictions" not in inspector.get_table_names()
    assert "kind" not in {c["name"] for c in inspector.get_columns("incidents")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM incidents")).scalars().all() == ["i6"]
    migrations.upgrade(url)
    engine.dispose()


def test_0006_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    check_0006_round_trip(f"sqlite:///{tmp_path}/m.db")
