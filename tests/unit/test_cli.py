"""The `vigil` command as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.procs import free_port


def test_vigil_up_serves_api_and_ingest_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    api_port, ingest_port = free_port(), free_port()
    env = {**os.environ, "VIGIL_API_PORT": str(api_port), "VIGIL_INGEST_PORT": str(ingest_port)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "up",
            "--database-url",
            f"sqlite:///{tmp_path}/up.db",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    printed: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "vigil up did not become ready"
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.2)
        point = {"name": "cpu", "labels": {"service": "a"}, "value": 1.0}
        sent = httpx.post(
            f"http://127.0.0.1:{ingest_port}/v1/json/metrics", json={"points": [point]}
        )
        assert sent.json() == {"accepted": 1}
        # First start: an admin key is printed, alone on its line, and the API needs it.
        assert proc.stdout is not None
        key = ""
        while not key.startswith("vgl_"):
            key = proc.stdout.readline().decode().strip()
            printed.append(key)
        incidents = f"http://127.0.0.1:{api_port}/api/v1/incidents"
        assert httpx.get(incidents).status_code == 401
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(incidents, headers=auth).json()["items"] == []
        assert httpx.get(f"http://127.0.0.1:{api_port}/docs").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        output = "\n".join(printed) + proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output
    assert f"API http://127.0.0.1:{api_port}" in output


def test_demo_rejects_a_non_positive_duration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--duration", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--duration must be positive" in result.stderr


def test_vigil_up_on_a_busy_port_says_so_and_exits_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "VIGIL_API_PORT": str(port), "VIGIL_INGEST_PORT": str(free_port())}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "up",
                "--database-url",
                f"sqlite:///{tmp_path}/up.db",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen for the API on 127.0.0.1:{port}" in result.stderr
