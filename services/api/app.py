"""The FastAPI application of the api service, and the one place domain errors become HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.api.audit.routes import router as audit_router
from services.api.auth.routes import router as auth_router
from services.api.auth.throttle import AuthThrottle, Throttled
from services.api.console.routes import router as console_router
from services.api.feed import Broadcaster, ChangeFeed
from services.api.feedback.routes import router as feedback_router
from services.api.headers import SecurityHeaders
from services.api.incidents.routes import router as incidents_router
from services.api.incidents.schemas import InvalidCursor
from services.api.incidents.stream import router as stream_router
from services.api.learning_models.routes import router as models_router
from services.api.notifications.config import NotifyConfig
from services.api.notifications.routes import router as notifications_router
from services.api.notifications.service import InvalidChannel
from services.api.notifications.slack import router as slack_router
from services.api.predictions.routes import InvalidScaling
from services.api.predictions.routes import router as predictions_router
from services.api.remediation.context import RemediationContext
from services.api.remediation.errors import InvalidPolicy
from services.api.remediation.routes import router as remediation_router
from services.api.silences.routes import router as silences_router
from services.api.topology.routes import router as topology_router
from services.core.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    InvalidMessage,
    NotFound,
    Unauthorized,
)

API_DESCRIPTION = """
Vigil's REST API: incidents opened from anomalies and external alerts, their lifecycle and
timelines, silences and maintenance windows, operator feedback, the audit log, and a live
stream of incident changes (Server-Sent Events).

**Authentication.** Every `/api/v1` route needs an API key: `Authorization: Bearer vgl_...`.
Keys come from `vigil keys create --role ROLE --name NAME` (or `POST /api/v1/keys`); the
embedded `vigil up` prints an admin key on its first start. Roles, each including the ones
before it: `viewer` (read), `responder` (work incidents, silences, feedback, propose actions),
`approver` (approve remediation actions), `admin` (keys, audit log, policies, kill switch).
401: no valid key; 403: role too low.

**Lists** are cursor-paginated: pass `next_cursor` back as `cursor`.
"""

OPENAPI_TAGS = [
    {"name": "incidents", "description": "Incidents, their lifecycle, timeline and stream."},
    {"name": "feedback", "description": "Operator labels on incidents, for the detectors."},
    {"name": "silences", "description": "Silences and maintenance windows."},
    {
        "name": "remediation",
        "description": "Policies, proposed actions and their approval, the kill switch, "
        "success rates.",
    },
    {"name": "topology", "description": "The service dependency graph learned from traces."},
    {
        "name": "predictions",
        "description": "Load forecasts, failure predictions, and replica advice for KEDA.",
    },
    {
        "name": "models",
        "description": "Per-series model records, detector versions, shadow runs of candidate "
        "configurations, promotion and rollback (admin to change).",
    },
    {
        "name": "notifications",
        "description": "Chat and paging channels (admin), delivery status, Slack callbacks.",
    },
    {"name": "audit", "description": "Who did what, when (admin)."},
    {"name": "auth", "description": "API keys (admin) and the caller's identity."},
    {"name": "operations", "description": "Health and readiness (no key needed)."},
]


def create_app(
    session_factory: sessionmaker[Session],
    *,
    ready: Callable[[], bool] = lambda: True,
    on_commit: Callable[[], None] = lambda: None,
    feed: ChangeFeed | None = None,
    heartbeat_s: float = 15.0,
    topology_max_age: timedelta = timedelta(hours=1),
    notify: NotifyConfig | None = None,
    remediation: RemediationContext | None = None,
    auth_throttle: AuthThrottle | None = None,
) -> FastAPI:
    """Build the API app around a session factory.

    `ready` reports the bus connection; `on_commit` runs after every committed write (wakes
    the outbox relay and the change feed); `feed` serves the event stream; `notify` holds
    the channel-secret key and Slack settings (a throwaway key when not given: tests, tools).
    """
    app = FastAPI(
        title="Vigil API",
        version="0.2.0",
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.session_factory = session_factory
    app.state.feed = feed or ChangeFeed(session_factory, Broadcaster())
    app.state.heartbeat_s = heartbeat_s
    app.state.topology_max_age = topology_max_age
    app.state.remediation = remediation or RemediationContext()
    app.state.notify = notify or NotifyConfig.ephemeral()
    # None: keys are checked without the brute-force guard (tests, tools); build_api sets one.
    app.state.auth_throttle = auth_throttle
    app.add_middleware(SecurityHeaders)

    def committed() -> None:
        on_commit()
        app.state.feed.notify()

    app.state.on_commit = committed
    app.include_router(stream_router)  # before /incidents/{id}, which would match "stream"
    app.include_router(incidents_router)
    app.include_router(feedback_router)
    app.include_router(silences_router)
    app.include_router(topology_router)
    app.include_router(predictions_router)
    app.include_router(models_router)
    app.include_router(remediation_router)
    app.include_router(notifications_router)
    app.include_router(slack_router)
    app.include_router(audit_router)
    app.include_router(auth_router)
    app.include_router(console_router)  # the web console at / (docs/console.md)
    _map_errors(app)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Database and bus are reachable")
    def readyz() -> JSONResponse:
        checks = {"database": _database_ok(session_factory), "bus": ready()}
        status = 200 if all(checks.values()) else 503
        return JSONResponse(status_code=status, content={"ready": status == 200, **checks})

    return app


def _map_errors(app: FastAPI) -> None:
    """Domain errors -> HTTP answers, in one place."""

    def answer(
        status: int, headers: dict[str, str] | None = None, message: str | None = None
    ) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def handler(_: Request, exc: Exception) -> JSONResponse:
            detail = message or str(exc)
            return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)

        return handler

    app.add_exception_handler(InvalidCursor, answer(400))
    app.add_exception_handler(Unauthorized, answer(401, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(Forbidden, answer(403))
    app.add_exception_handler(Throttled, _throttled)
    app.add_exception_handler(NotFound, answer(404))
    app.add_exception_handler(Conflict, answer(409))
    app.add_exception_handler(InvalidPolicy, answer(422))
    app.add_exception_handler(InvalidChannel, answer(422))
    app.add_exception_handler(InvalidScaling, answer(422))
    app.add_exception_handler(InvalidMessage, answer(400))
    # E.g. a stored channel secret the configured key cannot decrypt (a key was rotated out).
    app.add_exception_handler(ConfigurationError, answer(503))
    # Input the schemas let through but the database refuses (e.g. NUL characters in text on
    # PostgreSQL) is the client's problem, not a server error.
    app.add_exception_handler(DataError, answer(422, message="value refused by the database"))
    # The database is down or unreachable: try again later, not a server bug (the consumers
    # hold their offsets meanwhile; see docs/operations.md, "Faults").
    app.add_exception_handler(
        OperationalError, answer(503, {"Retry-After": "5"}, "database unavailable; retry shortly")
    )


async def _throttled(_: Request, exc: Exception) -> JSONResponse:
    retry_after = exc.retry_after if isinstance(exc, Throttled) else "60"
    return JSONResponse(
        status_code=429, content={"detail": str(exc)}, headers={"Retry-After": retry_after}
    )


def _database_ok(factory: sessionmaker[Session]) -> bool:
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
