"""The fault suite: every test here carries the `fault` marker and adds one row to a table.

Each test breaks something on real Kafka + PostgreSQL (a killed worker, a restarted broker, a
database outage, duplicated or poisoned messages, skewed clocks), asserts that nothing it
accepted was lost or doubled, and records what it counted. At the end of the run the rows are
printed as one table (`pytest_terminal_summary`). Brokers and databases that a test stops are
private ones it starts itself: the shared services other test runs use are never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.integration.procs import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FaultRow:
    """What one fault test counted."""

    fault: str
    accepted: int  # events the system acknowledged (HTTP 200, or published by the test)
    persisted: int  # of those, found where they belong afterwards (Kafka, database, results)
    duplicates: int  # accepted events stored more than once
    duplicate_incidents: int
    duplicate_actions: int
    recovery_s: float  # from the fault (or its end) until the system caught up
    note: str = ""


@dataclass
class FaultReport:
    """Session-wide collector of the rows, in the order the tests ran."""

    rows: list[FaultRow] = field(default_factory=list)

    def add(self, row: FaultRow) -> FaultRow:
        self.rows.append(row)
        return row

    def table(self) -> list[str]:
        header = (
            f"{'fault':<34} {'accepted':>9} {'persisted':>9} {'dup events':>10} "
            f"{'dup incidents':>13} {'dup actions':>11} {'recovery s':>10}  note"
        )
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.fault:<34} {r.accepted:>9} {r.persisted:>9} {r.duplicates:>10} "
                f"{r.duplicate_incidents:>13} {r.duplicate_actions:>11} "
                f"{r.recovery_s:>10.1f}  {r.note}"
            )
        return lines


REPORT_KEY = pytest.StashKey[FaultReport]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORT_KEY] = FaultReport()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/fault/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.fault)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = terminalreporter.config.stash.get(REPORT_KEY, None)
    if report is None or not report.rows:
        return
    terminalreporter.section("fault suite: accepted vs persisted, duplicates, recovery")
    for line in report.table():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def fault_report(request: pytest.FixtureRequest) -> FaultReport:
    """The collector the tests add their rows to."""
    return request.config.stash[REPORT_KEY]


def _script(name: str, command: str, env: dict[str, str], timeout_s: float = 240) -> None:
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / name), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"{name} {command} failed:\n{result.stderr[-3000:]}")


@dataclass
class PrivateBroker:
    """A Kafka broker of the test's own (scripts/kafka.sh on free ports, private state)."""

    bootstrap: str
    env: dict[str, str]

    def run(self, command: str) -> None:
        _script("kafka.sh", command, self.env)


@pytest.fixture
def private_broker(kafka_bootstrap: str, tmp_path: Path) -> Iterator[PrivateBroker]:
    """A broker that may be restarted; taken down afterwards. Needs the shared one's jars."""
    port, controller = free_port(), free_port()
    env = {
        **os.environ,
        "VIGIL_KAFKA_PORT": str(port),
        "VIGIL_KAFKA_CONTROLLER_PORT": str(controller),
        "VIGIL_STATE_DIR": str(tmp_path / "state"),
        "VIGIL_KAFKA_HEAP": "512m",
    }
    broker = PrivateBroker(f"127.0.0.1:{port}", env)
    try:
        broker.run("up")
    except (AssertionError, subprocess.TimeoutExpired) as exc:
        unavailable("a private Kafka broker (scripts/kafka.sh)", exc)
    try:
        yield broker
    finally:
        broker.run("down")


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (scripts/postgres.sh on a free port)."""

    port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://vigil:vigil@127.0.0.1:{self.port}/vigil"

    def run(self, command: str) -> None:
        _script("postgres.sh", command, self.env, timeout_s=180)


@pytest.fixture
def private_postgres(pg_admin_url: str) -> Iterator[PrivatePostgres]:
    """A cluster that may be stopped and started; deleted afterwards.

    Its directory is under /var/tmp, not the test's tmp_path: as root, the server runs as the
    `postgres` user, which cannot enter pytest's (mode 700) temporary directories.
    """
    base = Path("/var/tmp") / f"vigil-fault-{uuid.uuid4().hex[:8]}"
    base.mkdir(parents=True)
    base.chmod(0o755)
    port = free_port()
    env = {**os.environ, "VIGIL_PG_PORT": str(port), "VIGIL_PG_DIR": str(base / "pg")}
    cluster = PrivatePostgres(port, env)
    try:
        cluster.run("up")
    except (AssertionError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        unavailable("a private PostgreSQL cluster (scripts/postgres.sh)", exc)
    try:
        yield cluster
    finally:
        try:
            cluster.run("down")
        finally:
            shutil.rmtree(base, ignore_errors=True)
