"""With CI=true an integration test whose service is unreachable fails; locally it skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_integration_test(ci: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CI": ci,
        "VIGIL_TEST_KAFKA": "127.0.0.1:1",
        "VIGIL_TEST_DATABASE_URL": "postgresql+psycopg://nobody:x@127.0.0.1:1/none",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
            "tests/integration/test_migrations_pg.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_service_fails_the_run_in_ci() -> None:
    result = _run_integration_test("true")
    assert result.returncode != 0, result.stdout
    assert "is unreachable" in result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]


def test_unreachable_service_skips_locally() -> None:
    result = _run_integration_test("")
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout.splitlines()[-1]
