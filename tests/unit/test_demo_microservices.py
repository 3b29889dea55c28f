"""`vigil demo --scenario microservices`: the shop's telemetry through the embedded stack,
incidents printed with their top root cause."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.demo.microservices import run_microservices_demo


def test_the_slow_database_is_printed_as_the_top_root_cause(tmp_path: Path) -> None:
    lines: list[str] = []
    code = asyncio.run(
        run_microservices_demo(
            seed=7, database_url=f"sqlite:///{tmp_path}/demo.db", out=lines.append
        )
    )
    text = "\n".join(lines)
    assert code == 0
    assert any(">>> injecting leaf latency in postgres" in line for line in lines), text
    assert any("INCIDENT OPENED" in line for line in lines), text
    summary = text.split("Summary:", 1)[1]
    assert "root cause: postgres (1.00)" in summary, text
    # every incident of the summary names its top root cause
    incidents = [
        line for line in summary.splitlines() if line.startswith("  ") and "root" not in line
    ]
    causes = [line for line in summary.splitlines() if "root cause:" in line]
    assert incidents and len(causes) == len(incidents), text
