"""Clock skew in incoming timestamps: far-future and far-past points amid a normal stream.

The policy (docs/operations.md, "Faults"): ingest accepts any timestamp (replays of history
are legitimate); detect skips a point stamped more than `MAX_FUTURE_SKEW` ahead of its own
clock, and a point older than its series' newest one, without learning from either. So one
host with a clock years ahead can neither crash a worker nor push its series' clock forward
(which would make every later, correct point look late), and the fault that follows is
detected as if the skewed points had never come.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.fault.conftest import FaultReport, FaultRow
from tests.fault.harness import duplicate_incidents, identity, kafka_points, ledger
from tests.integration.kafka_tools import wait_for
from tests.integration.stack import Stack, workload

TICKS, FAULT = 260, range(140, 180)
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # a clock decades ahead
PAST = datetime(1971, 1, 1, tzinfo=UTC)  # a clock reset to the epoch


def _counter(stack: Stack, name: str) -> float:
    """A counter from detect's /metrics."""
    port = stack.procs["detect"].ops_port
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"{name}_total "):
            return float(line.split()[1])
    raise AssertionError(f"detect does not export {name}")


def _skewed(service: str, at: datetime, value: float) -> list[dict[str, Any]]:
    return [
        {"name": n, "labels": {"service": service}, "value": value, "timestamp": at.isoformat()}
        for n in ("latency", "errors", "cpu")
    ]


def test_far_future_and_far_past_points_neither_crash_nor_poison_a_series(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path, fault_report: FaultReport
) -> None:
    stack = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    service = "f-skew"
    batches = workload(service, ticks=TICKS, fault=FAULT)
    # Skewed points, at wild values, interleaved with the normal stream before the fault.
    for tick, at in ((60, FUTURE), (70, PAST), (90, FUTURE), (100, PAST)):
        batches[tick] = batches[tick] + _skewed(service, at + timedelta(seconds=tick), 1e4)
    try:
        for name in ("api", "ingest", "detect"):
            stack.start(name)
        began = time.monotonic()
        accepted = stack.send(batches)
        wait_for(lambda: stack.resolved(service), timeout_s=180, what="the fault's incident")
        recovery = time.monotonic() - began
        wait_for(lambda: stack.detect_lag() == 0, timeout_s=90, what="detect to commit all")
        assert all(p.alive() for p in stack.procs.values())
        skipped_future = _counter(stack, "vigil_detect_skewed")
        skipped_late = _counter(stack, "vigil_detect_out_of_order")
        books = ledger([identity(p) for b in batches for p in b], kafka_points(stack, {service}))
        extra = duplicate_incidents(stack, service)
        (incident,) = stack.incidents(service)
    finally:
        stack.stop_all()
    fault_report.add(
        FaultRow(
            "clock skew (+74 y / -55 y points)",
            books.accepted,
            books.persisted,
            books.duplicates,
            extra,
            0,
            recovery,
            note="skewed points accepted, stored, not learned; the later fault detected",
        )
    )
    assert (skipped_future, skipped_late) == (6, 6)  # 2 x 3 series each way, nothing else
    assert accepted == books.accepted == (TICKS + 4) * 3
    assert books.lost == 0 and books.duplicates == 0, books
    assert extra == 0
    # Detected on the normal timeline: the skewed values (10000) raised nothing, the fault
    # one firing and one resolved signal.
    assert incident["title"] == f"latency anomalous on {service}", incident
    assert incident["signal_count"] == 2, incident
