"""Production topology operations: scale-out with failover, graceful shutdown under load."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx

from tests.integration.kafka_tools import wait_for
from tests.integration.stack import Stack, merge, workload

SERVICES = [f"svc{i}" for i in range(6)]
# svc0's fault comes before the takeover (tick 160); svc3's and svc5's after it, on the
# partitions that change hands. The successor must resume those partitions where the dead
# worker's commits end, with its checkpointed series state, and take every point in order:
# Faust on its own dropped messages there (docs/operations.md, "Known issues"), so the
# series started cold or skipped points and these faults went unseen.
FAULTY = {"svc0": range(120, 150), "svc3": range(300, 330), "svc5": range(330, 360)}
TICKS = 440


def _fleet() -> list[list[dict[str, object]]]:
    return merge(
        *[
            workload(s, ticks=TICKS, fault=FAULTY.get(s, range(0)), seed=i)
            for i, s in enumerate(SERVICES)
        ]
    )


def _assigned(proc_log: Path, topic: str) -> list[int]:
    """Partitions of `topic` in the last assignment a worker logged."""
    found = re.findall(
        rf"partitions assigned: .*?{re.escape(topic)}\[([0-9, ]*)\]",
        proc_log.read_text(errors="replace"),
    )
    return [int(p) for p in found[-1].split(",") if p.strip()] if found else []


def _assert_one_resolved_incident_per_fault(stack: Stack) -> None:
    for service in SERVICES:
        incidents = stack.incidents(service)
        if service in FAULTY:
            assert len(incidents) == 1, (service, incidents)
            assert incidents[0]["status"] == "resolved", (service, incidents)
        else:
            assert incidents == [], (service, incidents)


def test_two_detect_workers_share_partitions_and_one_takes_over_when_the_other_dies(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    stack = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    try:
        stack.start("api")
        stack.start("ingest")
        a = stack.start("detect-a", "detect")
        # b joins once a owns the partitions and has started on them, as workers that are
        # added to a running group do. (Two workers joining within the same second make
        # Faust rebalance while a is still restoring its tables; on a slow broker that
        # stalled a's partitions once in a while — an upstream Faust issue, see
        # docs/operations.md "Known issues".)
        a.wait_log("partitions assigned")
        b = stack.start("detect-b", "detect")
        topic = f"{topic_prefix}telemetry.metrics"
        wait_for(
            lambda: (
                _assigned(a.log_path, topic)
                and _assigned(b.log_path, topic)
                and len(_assigned(a.log_path, topic) + _assigned(b.log_path, topic)) == 12
            ),
            timeout_s=90,
            what="both workers to own a share of the 12 partitions",
        )
        fleet = _fleet()
        sent = stack.send(fleet[:160])
        wait_for(lambda: stack.incidents("svc0"), timeout_s=120, what="the first incident")
        a.kill()
        wait_for(
            lambda: len(_assigned(b.log_path, topic)) == 12,
            timeout_s=90,
            what="the surviving worker to take every partition",
        )
        sent += stack.send(fleet[160:])
        wait_for(
            lambda: all(stack.resolved(s) for s in FAULTY),
            timeout_s=180,
            what="every fault's incident to resolve",
        )
        wait_for(lambda: stack.detect_lag() == 0, timeout_s=60, what="detect to commit everything")
        assert len(stack.events("telemetry.metrics")) == sent
        _assert_one_resolved_incident_per_fault(stack)
    finally:
        stack.stop_all()


def test_sigterm_during_load_loses_nothing(
    kafka_bootstrap: str, pg_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    stack = Stack(kafka_bootstrap, pg_url, topic_prefix, tmp_path)
    try:
        stack.start("api")
        ingest = stack.start("ingest")
        detect = stack.start("detect")
        fleet = _fleet()
        accepted = 0
        stop_sending = threading.Event()

        def sender() -> None:
            nonlocal accepted
            with httpx.Client(base_url=stack.ingest, timeout=30) as client:
                for i in range(0, len(fleet), 4):
                    if stop_sending.is_set():
                        return
                    points = [p for batch in fleet[i : i + 4] for p in batch]
                    try:
                        response = client.post("/v1/json/metrics", json={"points": points})
                    except httpx.HTTPError:
                        return  # ingest went away: what it answered 200 for is what counts
                    if response.status_code != 200:
                        return
                    accepted += response.json()["accepted"]

        thread = threading.Thread(target=sender)
        thread.start()
        detect.wait_log("partitions assigned")  # consuming, so the SIGTERM lands mid-stream
        wait_for(lambda: accepted > 1500, timeout_s=60, what="load to build up")
        assert detect.stop() == 0  # SIGTERM mid-stream: finish in-flight work, commit, exit 0
        assert ingest.stop() == 0  # SIGTERM while requests are arriving
        thread.join(timeout=60)
        stop_sending.set()
        in_kafka = len(stack.events("telemetry.metrics"))
        assert in_kafka == accepted, (in_kafka, accepted)
        # Restart both and send the rest: every point is processed once, incidents once.
        stack.start("ingest")
        detect.start()
        sent_tick = accepted // (3 * len(SERVICES))
        accepted += stack.send(fleet[sent_tick:])
        wait_for(
            lambda: all(stack.resolved(s) for s in FAULTY),
            timeout_s=180,
            what="every fault's incident to resolve",
        )
        wait_for(lambda: stack.detect_lag() == 0, timeout_s=60, what="detect to commit everything")
        _assert_one_resolved_incident_per_fault(stack)
    finally:
        stack.stop_all()
