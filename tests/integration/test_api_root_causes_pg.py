"""Root causes on incidents on a real PostgreSQL: ranked, stored, re-ranked when a service joins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

import migrations
from services.core.db import make_engine, make_session_factory
from tests.unit.test_incident_root_causes import seed_chain
from tests.unit.test_incident_root_causes import (
    test_the_ranking_updates_when_a_new_service_joins as check_ranking_updates,
)
from tests.unit.test_incident_root_causes import (
    test_the_service_anomalous_first_at_the_bottom_of_the_chain_ranks_first as check_chain,
)


@pytest.fixture
def factory(pg_url: str) -> Iterator[sessionmaker[Session]]:
    migrations.upgrade(pg_url)
    engine = make_engine(pg_url)
    factory: sessionmaker[Session] = make_session_factory(engine)
    seed_chain(factory)
    yield factory
    engine.dispose()


def test_the_root_of_a_chain_ranks_first_on_postgresql(factory: sessionmaker[Session]) -> None:
    check_chain(factory)


def test_the_ranking_updates_when_a_service_joins_on_postgresql(
    factory: sessionmaker[Session],
) -> None:
    check_ranking_updates(factory)
