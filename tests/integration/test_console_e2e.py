"""The web console in a real headless browser (Debian's chromium driven by Playwright).

Each test runs `vigil up` (the embedded stack, as an operator would) on free ports with its
own SQLite database and a remediation policy that needs one approval, pushes the demo's
synthetic workload (with its injected checkout latency fault) through the ingest HTTP API,
and works the console like an operator: sign in, watch the incident appear without
reloading, open it (chart, explanation, ranking), label it, approve its pending action.
Screenshots of the main pages go to test-artifacts/console/ (or $VIGIL_TEST_ARTIFACTS).

No chromium (or no playwright) skips locally and fails with CI=true, like Kafka and
PostgreSQL in tests/conftest.py: scripts/test.sh installs both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import migrations
from services.core.db import make_engine, make_session_factory
from services.demo.workload import Workload
from tests.conftest import unavailable
from tests.factories import make_key

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("VIGIL_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("VIGIL_TEST_ARTIFACTS", REPO / "test-artifacts")) / "console"
TICKS = 215  # past the checkout latency fault (ticks 150-200) of the demo workload
POLICIES = """
policies:
  - name: restart-checkout
    owner: olivia
    match: {services: [checkout], min_severity: warning}
    actions:
      - {action: demo.restart, target: "{service}", risk: medium}
    approval: {required: 1, ttl: 30m}
  - name: drain-checkout
    owner: ana
    match: {services: [checkout], min_severity: warning}
    actions:
      - {action: demo.restart, target: "{service}-canary", risk: low}
    approval: {required: 1, ttl: 30m}
"""


@dataclass
class Console:
    """A running `vigil up` and keys for each role (the approver is `ana`)."""

    url: str
    ingest: str
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    pushed: threading.Event = field(default_factory=threading.Event)

    def api(self, method: str, path: str, role: str = "admin", **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        response = httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kw
        )
        response.raise_for_status()
        return response.json()

    def push_workload(self, ticks: int = TICKS) -> None:
        """The demo's fleet, tick by tick (10 s of simulated time each), through ingest."""
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10 * ticks)
        workload = Workload(seed=7, start=start)
        with httpx.Client(base_url=self.ingest, timeout=30) as client:
            for tick in range(ticks):
                client.post(
                    "/v1/json/metrics", json={"points": workload.batch(tick)}
                ).raise_for_status()
                time.sleep(0.01)  # let detect keep pace, as the demo's paced push does
        self.pushed.set()

    def wait_for_incident(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.api("GET", "/incidents", params={"service": "checkout"})["items"]
            if items:
                return dict(items[0])
            time.sleep(0.5)
        raise AssertionError(f"no checkout incident within {timeout}s; log: {self.log}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Debian chromium under Playwright (never Playwright's downloaded browsers)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("playwright (pip install -e '.[dev]')", exc)
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        unavailable(f"chromium at {CHROMIUM} (apt-get install chromium)", "not installed")
    with sync_playwright() as pw:
        # --no-sandbox: CI containers run as root, where chromium's sandbox cannot start.
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path}/vigil.db"
    migrations.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    keys = {
        "admin": make_key(factory, "admin", "root"),
        "approver": make_key(factory, "approver", "ana"),
        "responder": make_key(factory, "responder", "rita"),
        "viewer": make_key(factory, "viewer", "vic"),
    }
    engine.dispose()
    policies = tmp_path / "policies.yaml"
    policies.write_text(POLICIES)
    api_port, ingest_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "VIGIL_API_PORT": str(api_port),
        "VIGIL_INGEST_PORT": str(ingest_port),
        "VIGIL_REMEDIATION_POLICIES": str(policies),
        "VIGIL_SECRET_KEY_FILE": str(tmp_path / "secret-key"),
        "VIGIL_QUIET_PERIOD_S": "3600",  # the incident stays open while the browser works it
    }
    log = tmp_path / "vigil-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--database-url", url],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Console(
        f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ingest_port}", keys, process, log
    )
    try:
        _wait_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(console: Console, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if console.process.poll() is not None:
            raise AssertionError(f"vigil up exited: {console.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{console.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"vigil up not ready within {timeout}s: {console.log.read_text()[-3000:]}")


@pytest.fixture
def page(chromium: Any, console: Console) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(console.url + "/")
    yield tab
    context.close()
    assert not errors, f"script errors in the console: {errors}"


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _sign_in(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def _with_incident(console: Console) -> dict[str, Any]:
    console.push_workload()
    return console.wait_for_incident()


def test_sign_in_refuses_a_wrong_key_and_keeps_the_key_out_of_urls(
    page: Any, console: Console
) -> None:
    from playwright.sync_api import expect

    _shot(page, "01-sign-in")
    page.get_by_label("API key").fill("vgl_nothere_wrongsecret")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="not accepted")).to_be_visible()
    assert page.get_by_role("navigation").is_hidden()

    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    _sign_in(page, console.keys["responder"])
    expect(page.get_by_text("rita (responder)")).to_be_visible()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    expect(page.locator("#stream-state")).to_have_text("live")
    assert requested, "the console made no API calls"
    assert not [u for u in requested if console.keys["responder"] in u], "key sent in a URL"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_an_incident_appears_live_during_the_demo_workload(page: Any, console: Console) -> None:
    from playwright.sync_api import expect

    _sign_in(page, console.keys["viewer"])
    expect(page.get_by_text("No incidents match")).to_be_visible()
    expect(page.locator("#stream-state")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")  # gone if the page reloads

    pusher = threading.Thread(target=console.push_workload, daemon=True)
    pusher.start()
    row = page.locator("tr[data-incident]").filter(has_text="checkout")
    expect(row.first).to_be_visible(timeout=90_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
    expect(page.locator("#live")).to_contain_text("Incident opened")
    _shot(page, "02-incidents-live")
    pusher.join(timeout=120)


def test_incident_detail_charts_the_series_and_records_feedback(
    page: Any, console: Console
) -> None:
    from playwright.sync_api import expect

    incident = _with_incident(console)
    _sign_in(page, console.keys["responder"])
    page.get_by_role("link", name=incident["title"]).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(incident["title"])

    chart = page.locator("svg.series").first
    expect(chart).to_be_visible()
    assert "checkout" in (chart.get_attribute("data-series") or "")
    expect(chart.locator("polygon.band")).to_have_count(1)
    expect(chart.locator("line.fired")).to_have_count(1)
    timeline = console.api("GET", f"/incidents/{incident['id']}/timeline")
    fired = next(e for e in timeline if e["kind"] == "anomaly.firing")
    observed_at = datetime.fromisoformat(fired["detail"]["observed_at"])
    # Marked at the series' own time (simulated, minutes before the api recorded it).
    expect(chart.locator("text.fired-label")).to_have_text(f"fired {observed_at:%H:%M:%S}")
    observed = fired["detail"]["explanation"]["observed"]
    page.get_by_text("Data points").first.click()
    expect(page.get_by_role("table", name="Points of").first).to_contain_text(f"{observed:.4g}")
    expect(page.get_by_role("heading", name="Explanation")).to_be_visible()
    expect(page.locator("section[aria-labelledby=h-expl] li").first).to_contain_text("expected")
    expect(page.locator(".timeline li").filter(has_text="incident.opened")).to_have_count(1)
    _shot(page, "03-incident-detail")

    page.get_by_label("Comment (optional)").fill("real latency spike")
    page.get_by_role("button", name="True positive").click()
    expect(page.get_by_role("table", name="Feedback given")).to_contain_text("true_positive")
    stored = console.api("GET", f"/incidents/{incident['id']}/feedback")
    assert [(f["label"], f["author"], f["comment"]) for f in stored] == [
        ("true_positive", "rita", "real latency spike")
    ]


def test_an_approver_approves_a_pending_action_and_sees_refusals(
    page: Any, console: Console
) -> None:
    from playwright.sync_api import expect

    _with_incident(console)
    deadline = time.monotonic() + 30
    while len(console.api("GET", "/actions", params={"state": "proposed"})["items"]) < 2:
        assert time.monotonic() < deadline, "the policies proposed no actions"
        time.sleep(0.5)
    _sign_in(page, console.keys["approver"])
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Pending approvals")).to_be_visible()
    _shot(page, "04-approvals")

    # ana owns drain-checkout: the API refuses self-approval, and the console says so.
    page.get_by_role("button", name="Approve demo.restart on checkout-canary").click()
    refusal = (
        page.locator("tr[data-action]").filter(has_text="checkout-canary").locator(".row-error")
    )
    expect(refusal).to_contain_text("Not allowed (403)")

    page.get_by_role("button", name="Approve demo.restart on checkout", exact=True).click()
    expect(page.locator("#live")).to_contain_text("Action demo.restart on checkout:")
    actions = console.api("GET", "/actions", params={"limit": 10})["items"]
    approved = [a for a in actions if a["target"] == "checkout"]
    assert approved and approved[0]["approved_by"] == ["ana"]
    assert approved[0]["state"] != "proposed"
    canary = [a for a in actions if a["target"] == "checkout-canary"]
    assert canary and canary[0]["state"] == "proposed" and canary[0]["approved_by"] == []
    _shot(page, "05-approved")


def test_an_admin_works_silences_and_the_kill_switch_from_the_keyboard(
    page: Any, console: Console
) -> None:
    from playwright.sync_api import expect

    # Sign in without a mouse: the key field has focus, Enter submits.
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(console.keys["admin"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    page.reload()  # the session survives a reload of the tab (sessionStorage)
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()  # still routed

    page.get_by_role("link", name="Silences").click()
    page.get_by_label("Value").fill("payments")
    page.get_by_label("Comment").fill("database failover drill")
    page.get_by_role("button", name="Create silence").click()
    row = page.locator("tr").filter(has_text='service = "payments"')
    expect(row).to_contain_text("active")
    [silence] = console.api("GET", "/silences")["items"]
    assert silence["active"] and silence["comment"] == "database failover drill"
    assert silence["created_by"] == "root"
    _shot(page, "06-silences")
    page.get_by_role("button", name="Expire silence service=payments").click()
    expect(row).to_contain_text("not active")
    assert console.api("GET", "/silences")["items"][0]["active"] is False

    page.get_by_role("link", name="Automation").click()
    page.get_by_label("Reason").fill("bad deploy in progress")
    page.get_by_role("button", name="Engage the kill switch").click()
    expect(page.locator("#ks-state")).to_contain_text("ENGAGED")
    switch = console.api("GET", "/remediation/kill-switch", role="viewer")
    assert switch["engaged"] is True and switch["reason"] == "bad deploy in progress"
    _shot(page, "07-kill-switch")
    page.get_by_role("button", name="Release the kill switch").click()
    expect(page.locator("#ks-state")).to_contain_text("released")
    assert console.api("GET", "/remediation/kill-switch")["engaged"] is False

    for section in ("Predictions", "Models"):
        page.get_by_role("link", name=section).click()
        expect(page.get_by_role("heading", name=section, level=1)).to_be_visible()
        _shot(page, f"08-{section.lower()}")


def test_a_viewer_sees_the_incident_but_no_controls_it_may_not_use(
    page: Any, console: Console
) -> None:
    from playwright.sync_api import expect

    incident = _with_incident(console)
    _sign_in(page, console.keys["viewer"])
    page.get_by_role("link", name=incident["title"]).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(incident["title"])
    expect(page.get_by_text("Giving feedback needs the responder role")).to_be_visible()
    expect(page.get_by_role("button", name="True positive")).to_have_count(0)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve", exact=False)).to_have_count(0)

    page.get_by_role("link", name="All incidents").click()
    page.get_by_label("Severity").select_option("info")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No incidents match")).to_be_visible()
    assert "severity=info" in page.url
    page.get_by_label("Severity").select_option(incident["severity"])
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("tr[data-incident]")).to_have_count(1)
