"""Revision 0004 (remediation actions, decisions, policies, kill switch) on SQLite: up with
an incident in place, rows written, down (incident kept), up again.

`check_0004_round_trip` is shared with the PostgreSQL test in tests/integration.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, pool, text

import migrations
from services.core.db import make_engine

TABLES = {
    "remediation_actions",
    "remediation_decisions",
    "remediation_policies",
    "remediation_kill_switch",
}


def check_0004_round_trip(url: str) -> None:
    """0003 with an incident -> 0004 (an action and its decision stored) -> 0003 -> head."""
    engine = make_engine(url, poolclass=pool.NullPool)
    migrations.upgrade(url, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incidents (id, tenant, service, title, severity, status, opened_at,"
                " updated_at, last_signal_at, signal_count, firing, services, flapping, flips,"
                " silenced) VALUES ('i4', 'default', 'checkout', 't', 'warning', 'open', :t, :t,"
                " :t, 1, '[]', '[\"checkout\"]', false, '[]', false)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
    migrations.upgrade(url, "0004")
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO remediation_actions (id, incident_id, dedup_key, policy, owner,"
                " action, target, params, risk, incident_kind, state, requested_by,"
                " auto_approved, required_approvals, approvers, approved_by, ttl_s,"
                " escalate_to, created_at, updated_at, expires_at, held, result_detail,"
                " result_output, verdict) VALUES ('a1', 'i4', 'd1', 'p', '', 'demo.restart',"
                " 'checkout', '{}', 'low', 'metric', 'proposed', 'remediation', false, 1,"
                " '[]', '[]', 600, '', :t, :t, :t, false, '', '{}', '')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO remediation_decisions (action_id, actor, verdict, via, at, comment)"
                " VALUES ('a1', 'bob', 'approve', 'api', :t, '')"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        assert conn.execute(text("SELECT count(*) FROM remediation_decisions")).scalar() == 1
    migrations.downgrade(url, "0003")
    assert not TABLES & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM incidents")).scalars().all() == ["i4"]
    migrations.upgrade(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0004_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    check_0004_round_trip(f"sqlite:///{tmp_path}/m.db")
