"""`vigil demo --webhook URL --webhook-secret SECRET` against a local HTTP server: every
notification of the demo arrives, once, in our signed format, and every signature verifies."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from services.api.incidents.models import Incident
from services.cli import main
from services.core.db import make_engine, make_session_factory
from services.demo.run import run_demo
from services.remediate.notify.signing import verify_webhook
from tests.unit.test_notify_support import Receiver

SECRET = "demo-shared-secret"


def test_every_demo_notification_reaches_the_webhook_signed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    lines: list[str] = []
    with Receiver() as receiver:
        code = asyncio.run(
            run_demo(
                duration=4,
                database_url=url,
                out=lines.append,
                webhook=receiver.url + "/vigil",
                webhook_secret=SECRET,
            )
        )
    text = "\n".join(lines)
    assert code == 0, text
    received = receiver.received
    assert received, text
    now = time.time()
    for request in received:
        assert request.path == "/vigil"
        assert verify_webhook(SECRET, request.headers, request.body, now=now), request.headers
        assert not verify_webhook("another-secret", request.headers, request.body, now=now)
        assert request.json()["id"] == request.headers["X-Vigil-Delivery"]
    deliveries = [r.headers["X-Vigil-Delivery"] for r in received]
    assert len(deliveries) == len(set(deliveries))  # none duplicated

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        incidents = set(session.scalars(select(Incident.id)))
    engine.dispose()
    bodies = [r.json() for r in received]
    opened = {b["incident"]["incident_id"] for b in bodies if b["type"] == "incident.opened"}
    resolved = {b["incident"]["incident_id"] for b in bodies if b["type"] == "incident.resolved"}
    assert opened == incidents and resolved == incidents and len(incidents) == 2
    assert all(b["channel"] == "demo-webhook" for b in bodies)
    summary = re.search(r"Webhook: (\d+) notification\(s\) delivered, (\d+) failed", text)
    assert summary is not None, text
    assert (int(summary[1]), int(summary[2])) == (len(received), 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook", "http://127.0.0.1:9/x"], "needs --webhook-secret"),
        (["--webhook-secret", "s"], "needs --webhook URL"),
        (["--webhook", "ftp://h/x", "--webhook-secret", "s"], "absolute http"),
        (["--scenario", "microservices", "--webhook", "http://h/x"], "not available"),
    ],
)
def test_demo_refuses_incomplete_webhook_options(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err
