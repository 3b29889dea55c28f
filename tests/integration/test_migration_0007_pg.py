"""Revision 0007 (model records, detector versions, shadow runs) on PostgreSQL: up, down."""

from __future__ import annotations

from tests.unit.test_migration_0007 import check_0007_round_trip


def test_0007_upgrade_and_downgrade_on_postgresql(pg_url: str) -> None:
    check_0007_round_trip(pg_url)
