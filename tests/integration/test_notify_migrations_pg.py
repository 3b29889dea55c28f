"""Revision 0005 (notification channels and deliveries) on a real PostgreSQL."""

from __future__ import annotations

from tests.unit.test_notify_migrations import check_0005_round_trip


def test_0005_upgrade_and_downgrade_on_postgresql(pg_url: str) -> None:
    check_0005_round_trip(pg_url)
