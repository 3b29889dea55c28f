"""Serves the console: `/` is its one HTML page, `/console/static/NAME` its script and styles.

Everything the console shows comes from the /api/v1 routes, called by the browser with the
operator's API key; these routes serve only files shipped in the package, need no key, and
never see one. Files are served from a fixed list read at import (no path from the request
reaches the filesystem), with a CSP that lets the page load only its own files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from services.core.errors import NotFound

STATIC = Path(__file__).parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only the page's own files: no inline script or style, no other origin (no CDN), no frames,
# and fetch/stream calls to this origin only.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONSOLE_CSP,
    # The page is small and changes with every release: revalidate rather than go stale.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _load() -> dict[str, tuple[bytes, str]]:
    files = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file() and path.suffix in TYPES:
            files[path.name] = (path.read_bytes(), TYPES[path.suffix])
    return files


FILES = _load()


def _serve(name: str) -> Response:
    found = FILES.get(name)
    if found is None:
        raise NotFound(f"no console file {name!r}")
    body, media_type = found
    return Response(content=body, media_type=media_type, headers=HEADERS)


@router.get("/")
def console_page() -> Response:
    """The console's single page (sign-in, incidents, approvals, silences, automation)."""
    return _serve("index.html")


@router.get("/console/static/{name}")
def console_file(name: Annotated[str, PathParam(max_length=64)]) -> Response:
    """One of the console's static files (404 for anything else)."""
    return _serve(name)
