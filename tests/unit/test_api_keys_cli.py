"""`vigil keys` and the admin key `vigil up` creates on its first start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.auth.roles import Role
from services.api.service import build_api
from services.api.settings import ApiSettings
from services.core.bus import InMemoryBus
from services.core.db import make_engine, make_session_factory


def _vigil(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_create_prints_the_key_once_alone_on_its_last_line(sqlite_url: str) -> None:
    created = _vigil(
        "keys", "create", "--role", "responder", "--name", "alice", database_url=sqlite_url
    )
    assert created.returncode == 0, created.stderr
    lines = created.stdout.strip().splitlines()
    key = lines[-1]
    assert key.startswith("vgl_") and key == key.strip() and " " not in key
    assert key not in "\n".join(lines[:-1])
    engine = make_engine(sqlite_url)
    with TestClient(create_app(make_session_factory(engine))) as client:
        me = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"}).json()
    assert (me["name"], me["role"]) == ("alice", "responder")
    listed = _vigil("keys", "list", database_url=sqlite_url)
    assert "alice" in listed.stdout and key not in listed.stdout
    key_id = me["key_id"]
    assert _vigil("keys", "revoke", "--id", key_id, database_url=sqlite_url).returncode == 0
    with TestClient(create_app(make_session_factory(engine))) as client:
        assert (
            client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {key}"}).status_code
            == 401
        )  # noqa: E501
    engine.dispose()


def test_keys_create_rejects_unknown_roles_and_unmigrated_databases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    bad_role = _vigil("keys", "create", "--role", "god", "--name", "x", database_url=url)
    assert bad_role.returncode == 2
    unmigrated = _vigil("keys", "create", "--role", "admin", "--name", "x", database_url=url)
    assert unmigrated.returncode == 2 and "vigil db upgrade" in unmigrated.stderr


def test_admin_key_is_created_only_when_no_key_exists(sqlite_url: str) -> None:
    api = build_api(ApiSettings(database_url=sqlite_url), InMemoryBus())
    first = api.ensure_admin_key()
    assert first is not None and first.startswith("vgl_")
    assert api.ensure_admin_key() is None
    api.create_key("ops", Role.VIEWER)
    assert api.ensure_admin_key() is None
    api.engine.dispose()
