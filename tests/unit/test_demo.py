from __future__ import annotations

import asyncio
from pathlib import Path

from services.demo.run import run_demo


def test_demo_opens_and_resolves_incidents_for_the_injected_faults(tmp_path: Path) -> None:
    lines: list[str] = []
    code = asyncio.run(
        run_demo(duration=4, database_url=f"sqlite:///{tmp_path}/demo.db", out=lines.append)
    )
    text = "\n".join(lines)
    assert code == 0
    opened = [line for line in lines if "INCIDENT OPENED" in line]
    resolved = [line for line in lines if "INCIDENT RESOLVED" in line]
    assert len(opened) == 2, text
    assert len(resolved) == 2, text
    assert any("checkout" in line for line in opened)
    assert any("payments" in line for line in opened)
    assert "2 incident(s) opened, 2 resolved" in text
