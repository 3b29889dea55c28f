"""Brute-force guard on API keys, and the security headers on every api response.

The HTTP tests build the api the way `vigil run api` does (build_api from ApiSettings), so they
fail if the guard is not wired in, not only if the throttle itself is wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.api.auth.throttle import AuthThrottle, Throttled, ThrottlePolicy
from services.api.service import build_api
from services.api.settings import ApiSettings
from services.core.bus import InMemoryBus
from services.core.db import make_engine, make_session_factory
from services.core.runtime import http_server
from tests.factories import make_key
from tests.integration.procs import free_port

WRONG = "vgl_0123456789ab_" + "A" * 43  # well-formed, but no such key


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_blocks_after_the_limit_and_forgives_when_the_window_passes() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(ThrottlePolicy(client_limit=3, key_limit=100, window_s=60), clock)
    for _ in range(3):
        throttle.check(client="a", key_id=None)
        throttle.failed(client="a", key_id=None)
        clock.now += 10
    with pytest.raises(Throttled) as blocked:
        throttle.check(client="a", key_id=None)
    assert blocked.value.retry_after == "30"  # first failure at 1000, now 1030, window 60
    throttle.check(client="b", key_id=None)  # another address is not affected
    clock.now += 30
    throttle.check(client="a", key_id=None)  # the oldest failure left the window


def test_failures_spread_over_time_never_block() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(ThrottlePolicy(client_limit=3, window_s=60), clock)
    for _ in range(20):
        throttle.check(client="a", key_id=None)
        throttle.failed(client="a", key_id=None)
        clock.now += 31  # never 3 failures within 60 s


def test_key_id_is_throttled_across_addresses() -> None:
    throttle = AuthThrottle(ThrottlePolicy(client_limit=100, key_limit=4), FakeClock())
    for i in range(4):
        throttle.failed(client=f"10.0.0.{i}", key_id="0123456789ab")
    with pytest.raises(Throttled, match="key id"):
        throttle.check(client="10.9.9.9", key_id="0123456789ab")
    throttle.check(client="10.9.9.9", key_id="ba9876543210")


def test_memory_is_bounded_by_max_tracked() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(ThrottlePolicy(client_limit=2, max_tracked=100), clock)
    throttle.failed(client="first", key_id=None)
    throttle.failed(client="first", key_id=None)
    for i in range(10_000):
        throttle.failed(client=f"scanner-{i}", key_id=f"{i:012x}")
    assert throttle.tracked == 200
    # The least recently failing address was forgotten to make room.
    throttle.check(client="first", key_id=None)


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[FastAPI, str]]:
    settings = ApiSettings(
        database_url=sqlite_url,
        secret_key_file=str(tmp_path / "secret-key"),
        auth_failure_limit=3,
        auth_key_failure_limit=5,
        auth_failure_window_s=300,
    )
    api = build_api(settings, InMemoryBus())
    engine = make_engine(sqlite_url)
    key = make_key(make_session_factory(engine), "viewer", "alice")
    yield api.app, key
    engine.dispose()
    api.engine.dispose()


def _whoami(app: FastAPI, address: str, token: str) -> httpx.Response:
    with TestClient(app, client=(address, 40000)) as client:
        response: httpx.Response = client.get(
            "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}
        )
    return response


def test_repeated_wrong_keys_from_one_address_get_429_with_retry_after(
    app: tuple[FastAPI, str],
) -> None:
    api, good = app
    statuses = [_whoami(api, "203.0.113.7", f"vgl_{i:012x}_" + "B" * 43) for i in range(3)]
    assert [r.status_code for r in statuses] == [401, 401, 401]
    refused = _whoami(api, "203.0.113.7", WRONG)
    assert refused.status_code == 429
    assert 290 <= int(refused.headers["Retry-After"]) <= 300
    assert "too many failed" in refused.json()["detail"]
    # The blocked address learns nothing, not even with a good key...
    assert _whoami(api, "203.0.113.7", good).status_code == 429
    # ...while everyone else authenticates as usual.
    assert _whoami(api, "198.51.100.1", good).json()["name"] == "alice"


def test_guessing_one_key_id_from_many_addresses_gets_429(app: tuple[FastAPI, str]) -> None:
    api, good = app
    for i in range(5):
        assert _whoami(api, f"192.0.2.{i}", WRONG).status_code == 401
    assert _whoami(api, "192.0.2.200", WRONG).status_code == 429
    assert _whoami(api, "192.0.2.200", good).status_code == 200  # another key id is fine


def test_missing_keys_are_not_counted_as_guesses(app: tuple[FastAPI, str]) -> None:
    api, good = app
    with TestClient(api, client=("203.0.113.9", 1)) as client:
        for _ in range(10):
            assert client.get("/api/v1/whoami").status_code == 401
    assert _whoami(api, "203.0.113.9", good).status_code == 200


def test_failures_are_logged_with_address_and_key_id_but_never_the_key(
    app: tuple[FastAPI, str], caplog: pytest.LogCaptureFixture
) -> None:
    api, _ = app
    secret = "vgl_0123456789ab_" + "S3cr3t-" * 6 + "x"
    with caplog.at_level(logging.INFO):
        assert _whoami(api, "203.0.113.50", secret).status_code == 401
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals and "203.0.113.50" in refusals[0] and "0123456789ab" in refusals[0]
    assert "S3cr3t" not in caplog.text


def _assert_security_headers(response: httpx.Response, *, html: bool) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    if html:
        assert "script-src 'self'" in csp and "default-src 'self'" in csp
    else:
        assert csp.startswith("default-src 'none'")


def test_every_kind_of_response_carries_the_security_headers(app: tuple[FastAPI, str]) -> None:
    api, good = app
    with TestClient(api) as client:
        _assert_security_headers(client.get("/healthz"), html=False)
        _assert_security_headers(client.get("/api/v1/incidents"), html=False)  # 401
        ok = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {good}"})
        _assert_security_headers(ok, html=False)
        _assert_security_headers(client.get("/api/v1/nowhere"), html=False)  # 404
        docs = client.get("/docs")
        assert docs.headers["content-type"].startswith("text/html")
        _assert_security_headers(docs, html=True)


def test_the_http_server_sends_no_banner(app: tuple[FastAPI, str]) -> None:
    api, _ = app

    async def main() -> httpx.Response:
        port = free_port()
        server = http_server(api, "127.0.0.1", port)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
            async with httpx.AsyncClient() as client:
                return await client.get(f"http://127.0.0.1:{port}/healthz")
        finally:
            server.should_exit = True
            await task

    response = asyncio.run(main())
    assert response.status_code == 200
    assert "server" not in response.headers
    _assert_security_headers(response, html=False)
