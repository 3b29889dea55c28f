"""Key checks behind the brute-force guard: refuse throttled callers, count and log failures."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from services.api.auth import keys
from services.api.auth import service as auth_service
from services.api.auth.principal import Principal
from services.api.auth.throttle import AuthThrottle
from services.core.errors import Unauthorized

log = logging.getLogger(__name__)


def authenticate(
    *,
    factory: sessionmaker[Session],
    throttle: AuthThrottle | None,
    client: str,
    token: str | None,
) -> Principal:
    """The principal behind `token`; raises Unauthorized, or Throttled after too many failures.

    A missing key is not a guess and is not counted; a wrong one is, against the caller's
    address and the key id it claims. The log names both, never the presented key. Without a
    throttle (tests, tools) failures are only logged.
    """
    if not token:
        raise Unauthorized("missing API key: send Authorization: Bearer KEY")
    key_id = keys.key_id_of(token)
    if throttle is not None:
        throttle.check(client=client, key_id=key_id)
    try:
        with factory() as session:
            return auth_service.authenticate(session=session, token=token)
    except Unauthorized as exc:
        if throttle is not None:
            throttle.failed(client=client, key_id=key_id)
        log.warning("API key refused from %s (key id %s): %s", client, key_id or "none", exc)
        raise
