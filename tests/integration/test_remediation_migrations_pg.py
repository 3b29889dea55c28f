"""Revision 0004 on a real PostgreSQL: upgrade with data, downgrade, upgrade again."""

from __future__ import annotations

from tests.unit.test_remediation_migrations import check_0004_round_trip


def test_0004_upgrade_and_downgrade_on_postgresql(pg_url: str) -> None:
    check_0004_round_trip(pg_url)
