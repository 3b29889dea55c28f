"""Shared fixtures: real services for integration tests, fresh databases, CI strictness.

Integration tests need Kafka and PostgreSQL (`scripts/services.sh up` starts both). Locally a
missing service skips them; with CI=true it fails the run, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

import migrations

CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
KAFKA_BOOTSTRAP = os.environ.get("VIGIL_TEST_KAFKA", "127.0.0.1:9092")
PG_ADMIN_URL = os.environ.get(
    "VIGIL_TEST_DATABASE_URL", "postgresql+psycopg://vigil:vigil@127.0.0.1:5432/vigil_test"
)


def unavailable(what: str, why: object) -> None:
    """Skip locally, fail in CI: an integration test must never pass by not running."""
    message = f"{what} is unreachable ({why}); start it with: bash scripts/services.sh up"
    if CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of a live Kafka broker."""
    try:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=KAFKA_BOOTSTRAP, request_timeout_ms=10_000, client_id="vigil-tests"
        )
        admin.list_topics()
        admin.close()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Kafka at {KAFKA_BOOTSTRAP}", exc)
    return KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of a live PostgreSQL database whose user may create databases."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL at {PG_ADMIN_URL.split('@')[-1]}", exc)
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"vigil_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = pg_admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: pytest.TempPathFactory) -> str:
    """A migrated SQLite database in the test's temp dir."""
    url = f"sqlite:///{tmp_path}/vigil-test.db"
    migrations.upgrade(url)
    return url


@pytest.fixture
def topic_prefix() -> Iterator[str]:
    """A unique topic namespace, so tests sharing one broker never see each other's data.

    Its topics are deleted afterwards: a broker keeps files open for every partition, and a
    long-lived development broker would otherwise run out of file descriptors.
    """
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    _delete_topics(prefix)


def _delete_topics(prefix: str) -> None:
    try:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=KAFKA_BOOTSTRAP, request_timeout_ms=10_000, client_id="vigil-tests"
        )
        try:
            doomed = [t for t in admin.list_topics() if t.startswith(prefix)]
            if doomed:
                admin.delete_topics(doomed)
        finally:
            admin.close()
    except Exception:  # noqa: BLE001, S110 - cleanup is best effort; the test already ran
        pass
