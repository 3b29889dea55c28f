"""Run Vigil services as real processes (`vigil run SERVICE`) for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

OPS_PORT_VARIABLES = {
    "detect": "VIGIL_DETECT_HTTP_PORT",
    "remediate": "VIGIL_REMEDIATE_HTTP_PORT",
}


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """One `vigil run SERVICE` process with its own environment and log file."""

    def __init__(
        self, service: str, env: dict[str, str], log_dir: Path, *, label: str | None = None
    ) -> None:
        self.service = service
        self.env = {**os.environ, **env}
        # detect and remediate serve health and metrics on a port: one free port per process,
        # so that several workers can run side by side.
        variable = OPS_PORT_VARIABLES.get(service)
        if variable is not None and variable not in env:
            self.env[variable] = str(free_port())
        self.ops_port = int(self.env[variable]) if variable is not None else None
        self.log_path = log_dir / f"{label or service}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> ServiceProcess:
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n=== start #{self.starts} ===\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", self.service],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no chance to commit, flush or say goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM and wait for a graceful exit (SIGKILL after 30 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_http_ready(self, url: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.service} exited:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.service} not ready at {url}:\n{self.log_tail()}")

    def wait_log(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.service} exited:\n{self.log_tail()}")
            if self.log_path.exists() and text in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise AssertionError(f"{self.service} never logged {text!r}:\n{self.log_tail()}")
