"""The console's files as the api serves them: the page, its own scripts and styles, nothing
else; a CSP that allows only this origin; no external asset anywhere. (What the console does
is tested in a real browser: tests/integration/test_console_e2e.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.console.routes import STATIC
from services.core.db import make_engine, make_session_factory


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    engine = make_engine(sqlite_url)
    with TestClient(create_app(make_session_factory(engine))) as test_client:
        yield test_client
    engine.dispose()


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def test_the_console_page_is_served_at_the_root_without_a_key(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Vigil console</title>" in response.text
    assert 'href="#main"' in response.text and 'id="main"' in response.text  # skip link
    assert 'aria-live="polite"' in response.text


def test_console_csp_allows_only_this_origin_and_no_inline_script(client: TestClient) -> None:
    for path in ("/", "/console/static/app.js", "/console/static/console.css"):
        response = client.get(path)
        csp = _directives(response.headers["Content-Security-Policy"])
        assert csp["default-src"] == ["'none'"]
        for directive in ("script-src", "style-src", "connect-src"):
            assert csp[directive] == ["'self'"], (path, directive, csp[directive])
        assert csp["frame-ancestors"] == ["'none'"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_file_the_page_loads_is_served_with_its_type(client: TestClient) -> None:
    page = client.get("/").text
    assets = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', page)
    assert {a.rsplit(".", 1)[1] for a in assets} >= {"js", "css"}
    types = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["content-type"].startswith(types[asset.rsplit(".", 1)[1]])


def test_the_page_has_no_inline_script_or_style(client: TestClient) -> None:
    page = client.get("/").text
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all('src="/console/static/' in s for s in scripts)
    assert "<style" not in page and " style=" not in page and "javascript:" not in page
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"


def test_no_console_file_loads_anything_from_another_origin() -> None:
    svg_namespace = "http://www.w3.org/2000/svg"
    for path in STATIC.iterdir():
        text = path.read_text().replace(svg_namespace, "")
        assert not re.search(r"https?://|//cdn|@import", text), path.name


@pytest.mark.parametrize(
    "path",
    [
        "/console/static/nothere.js",
        "/console/static/..%2Froutes.py",
        "/console/static/%2E%2E%2F__init__.py",
        "/console/static/routes.py",
    ],
)
def test_only_the_shipped_files_are_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in response.text


def test_api_routes_still_answer_json_with_the_api_csp(client: TestClient) -> None:
    response = client.get("/api/v1/incidents")
    assert response.status_code == 401
    assert _directives(response.headers["Content-Security-Policy"])["default-src"] == ["'none'"]
