"""The FastAPI application of the api service."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents.routes import router as incidents_router
from services.api.incidents.schemas import InvalidCursor
from services.core.errors import Conflict, NotFound

API_DESCRIPTION = """
Vigil's REST API: incidents opened from anomalies and alerts, their timelines, and (as the
platform grows) approvals, feedback and configuration. Every list is cursor-paginated.
"""


def create_app(
    session_factory: sessionmaker[Session], *, ready: Callable[[], bool] = lambda: True
) -> FastAPI:
    """Build the API app around a session factory; `ready` reports the bus connection."""
    app = FastAPI(title="Vigil API", version="0.1.0", description=API_DESCRIPTION)
    app.state.session_factory = session_factory
    app.include_router(incidents_router)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(InvalidCursor)
    async def bad_cursor(_: Request, exc: InvalidCursor) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Database and bus are reachable")
    def readyz() -> JSONResponse:
        checks = {"database": _database_ok(session_factory), "bus": ready()}
        status = 200 if all(checks.values()) else 503
        return JSONResponse(status_code=status, content={"ready": status == 200, **checks})

    return app


def _database_ok(factory: sessionmaker[Session]) -> bool:
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
