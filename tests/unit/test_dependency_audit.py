"""The dependency audit's reading of pip-audit reports (scripts/dependency_audit.py): known
vulnerabilities fail the run, and a run that could check nothing says so instead of passing
as audited."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "dependency_audit.py"
    spec = importlib.util.spec_from_file_location("dependency_audit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLEAN = {"name": "fastapi", "version": "0.115.0", "vulns": []}
EDITABLE = {"name": "vigil-aiops", "skip_reason": "distribution marked as editable"}
UNREACHABLE = {
    "name": "urllib3",
    "skip_reason": "Dependency not found on PyPI and could not be audited: urllib3 (2.8.0)",
}
VULNERABLE = {
    "name": "jinja2",
    "version": "2.10",
    "vulns": [{"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": []}],
}


def test_a_known_vulnerability_fails_the_audit_and_is_named(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [CLEAN, VULNERABLE, EDITABLE]}, required=False)
    assert code == audit.EXIT_VULNERABLE
    assert lines[0] == "VULNERABLE: 1 of 2 audited packages"
    assert "jinja2 2.10: PYSEC-2019-217 (2.10.1)" in lines[1]


def test_nothing_checked_is_reported_as_not_audited_not_as_clean(audit: ModuleType) -> None:
    report = {"dependencies": [UNREACHABLE, EDITABLE]}
    code, lines = audit.verdict(report, required=False)
    assert code == audit.EXIT_CLEAN  # a closed network does not stop the test run...
    assert lines[0].startswith("NOT AUDITED: none of 1 packages could be checked")
    assert "urllib3 (2.8.0)" in lines[0]
    code, _ = audit.verdict(report, required=True)
    assert code == audit.EXIT_NOT_AUDITED  # ...unless an audit is required


def test_pip_audit_stopping_without_a_report_is_not_audited(audit: ModuleType) -> None:
    report = {"dependencies": [{"name": "(all)", "skip_reason": "pip-audit: ConnectionError"}]}
    code, lines = audit.verdict(report, required=True)
    assert code == audit.EXIT_NOT_AUDITED
    assert "ConnectionError" in lines[0]


def test_an_audit_names_the_packages_it_could_not_check(audit: ModuleType) -> None:
    code, lines = audit.verdict({"dependencies": [CLEAN, UNREACHABLE, EDITABLE]}, required=True)
    assert code == audit.EXIT_CLEAN
    assert lines == [
        "audited 1 packages: no known vulnerabilities",
        "  could not be checked (1): urllib3",
    ]


class OsvFeed(BaseHTTPRequestHandler):
    """An OSV API (POST /v1/query) that knows one advisory, against the installed idna."""

    queried: ClassVar[list[str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = query["package"]["name"]
        self.queried.append(name)
        body: dict[str, object] = {}
        if name == "idna" and query["package"]["ecosystem"] == "PyPI":
            body = {"vulns": [{
                "id": "GHSA-test-0001", "summary": "made up for this test",
                "affected": [{
                    "package": {"name": "idna", "ecosystem": "PyPI"},
                    "ranges": [{"type": "ECOSYSTEM",
                                "events": [{"introduced": "0"}, {"fixed": "999.0"}]}],
                }],
            }]}  # fmt: skip
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


def test_the_audit_fails_on_an_advisory_from_a_reachable_feed(tmp_path: Path) -> None:
    """The whole script, pip-audit included, against a local OSV feed (VIGIL_AUDIT_OSV_URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), OsvFeed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = Path(__file__).resolve().parents[2] / "scripts" / "dependency_audit.py"
    env = {
        **os.environ,
        "VIGIL_AUDIT_OSV_URL": f"http://127.0.0.1:{server.server_port}/v1/query",
        "PIP_AUDIT_CACHE_DIR": str(tmp_path),
    }
    try:
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600
        )
    finally:
        server.shutdown()
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("VULNERABLE: 1 of ")
    assert "idna" in done.stdout and "GHSA-test-0001 (999.0)" in done.stdout
    assert {"idna", "fastapi", "sqlalchemy"} <= set(OsvFeed.queried)  # the installed packages
