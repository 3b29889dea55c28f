"""Revision 0006 (predictions, incident kind) on PostgreSQL: up, down, data kept."""

from __future__ import annotations

from tests.unit.test_migration_0006 import check_0006_round_trip


def test_0006_upgrade_and_downgrade_on_postgresql(pg_url: str) -> None:
    check_0006_round_trip(pg_url)
