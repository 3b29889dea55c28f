"""FastAPI dependencies, as Annotated aliases: sessions, transactions, the caller and its role.

Every /api/v1 route depends on one of `Viewer`, `Responder`, `Approver` or `Admin`, which
authenticate the `Authorization: Bearer KEY` header (401 without a valid key) and check the
key's role (403 when it is not enough).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from services.api.auth import guard
from services.api.auth.principal import Principal
from services.api.auth.roles import Role, allows
from services.core.errors import Forbidden

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="vgl_<id>_<secret>",
    description="An API key from `vigil keys create` (or POST /api/v1/keys), as a bearer token.",
)


def get_session(request: Request) -> Iterator[Session]:
    """A read session from the app's session factory."""
    with request.app.state.session_factory() as session:
        yield session


class Transaction:
    """Opens a write transaction; after a successful commit, wakes the outbox relay and feed."""

    def __init__(self, factory: sessionmaker[Session], on_commit: Callable[[], None]) -> None:
        self.factory = factory
        self.on_commit = on_commit

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with self.factory() as session, session.begin():
            yield session
        self.on_commit()


def get_transaction(request: Request) -> Transaction:
    """The app's transaction opener."""
    return Transaction(request.app.state.session_factory, request.app.state.on_commit)


SessionDep = Annotated[Session, Depends(get_session)]
TransactionDep = Annotated[Transaction, Depends(get_transaction)]


def _authenticate(request: Request, token: str | None) -> Principal:
    # Behind the brute-force guard (services/api/auth/throttle.py): 429 after repeated failures.
    return guard.authenticate(
        factory=request.app.state.session_factory,
        throttle=request.app.state.auth_throttle,
        client=request.client.host if request.client else "unknown",
        token=token,
    )


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from the bearer key; raises Unauthorized."""
    return _authenticate(request, credentials.credentials if credentials else None)


def stream_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    access_token: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The API key, for EventSource clients that cannot send headers. "
            "Prefer the Authorization header: URLs end up in proxy logs.",
        ),
    ] = None,
) -> Principal:
    """The caller of the event stream: bearer header, or `?access_token=` for EventSource."""
    token = credentials.credentials if credentials else access_token
    return _authenticate(request, token)


def require_role(
    role: Role, source: Callable[..., Principal] = current_principal
) -> Callable[[Principal], Principal]:
    """A dependency returning the caller if its role is at least `role` (403 otherwise)."""

    # A default rather than Annotated: the annotation must resolve from module globals.
    def check(principal: Principal = Depends(source)) -> Principal:  # noqa: B008
        if not allows(principal.role, role):
            raise Forbidden(f"this needs the {role.value} role (key has {principal.role.value})")
        return principal

    check.__name__ = f"require_{role.value}"
    return check


Viewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
Responder = Annotated[Principal, Depends(require_role(Role.RESPONDER))]
Approver = Annotated[Principal, Depends(require_role(Role.APPROVER))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
StreamViewer = Annotated[Principal, Depends(require_role(Role.VIEWER, stream_principal))]
