"""Revisions 0002 and 0003 on a real PostgreSQL: upgrade with data, model parity, downgrade."""

from __future__ import annotations

from tests.unit.test_api_migrations import check_0002_round_trip, check_0003_round_trip


def test_0002_upgrade_and_downgrade_on_postgresql(pg_url: str) -> None:
    check_0002_round_trip(pg_url)


def test_0003_upgrade_and_downgrade_on_postgresql(pg_url: str) -> None:
    check_0003_round_trip(pg_url)
