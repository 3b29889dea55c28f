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


def test_demo_shows_the_remediation_loop(tmp_path: Path) -> None:
    lines: list[str] = []
    code = asyncio.run(
        run_demo(duration=4, database_url=f"sqlite:///{tmp_path}/demo.db", out=lines.append)
    )
    text = "\n".join(lines)
    assert code == 0
    for target in ("checkout", "payments"):
        steps = [
            next(i for i, line in enumerate(lines) if f"ACTION {step}" in line and target in line)
            for step in ("PROPOSED", "APPROVED", "EXECUTED", "VERIFIED")
        ]
        assert steps == sorted(steps), text
    assert any("ACTION APPROVED" in x and "checkout" in x and "by its policy" in x for x in lines)
    assert any(
        "ACTION APPROVED" in x and "payments" in x and "demo-approver via the API" in x
        for x in lines
    )
    assert any("EXECUTED" in x and "restarted checkout" in x for x in lines), text
    assert "Remediation: 2 action(s) proposed, 2 verified" in text
