"""Channels as the api stores them, read by the remediate workers from the shared database.

The api owns the `notification_channels` table (services/api/notifications/models.py); the
workers only read it, with plain SQL on the columns named here, so they do not import the
api's models. Every replica reads the whole table: a channel must be known to whichever worker
owns the incident's partition. (A compacted topic would need every replica to consume every
partition, which a consumer-group bus does not do; the table works the same on Kafka +
PostgreSQL and in the embedded stack on SQLite.)

The snapshot is reloaded every `refresh_s` by `run()` (a background task, in a thread), so an
edit applies within that time and lookups never wait for the database. When the database is
unreachable the last snapshot keeps serving; before the first successful load a
`RetryableError` makes the bus retry the message instead of failing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from services.core.errors import ConfigurationError, RetryableError
from services.remediate.notify.base import ChannelConfig, ChannelKind, NotifyError
from services.remediate.notify.routing import RouteRule, rules_from_stored
from services.remediate.notify.secretbox import SecretBox

log = logging.getLogger(__name__)

QUERY = text(
    "SELECT name, kind, url, secret_token, options, rules, enabled FROM notification_channels"
)


@dataclass(frozen=True)
class _Snapshot:
    channels: dict[str, ChannelConfig]
    broken: dict[str, str]  # channel name -> why it cannot be used
    rules: list[RouteRule]


def _json(value: Any, default: Any) -> Any:
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str | bytes) else value


class DatabaseChannels:
    """A ChannelDirectory (and routing-rule source) over the api's channel table."""

    def __init__(
        self,
        engine: Engine,
        box: SecretBox,
        *,
        refresh_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.box = box
        self.refresh_s = refresh_s
        self.monotonic = monotonic
        self._snapshot: _Snapshot | None = None
        self._loaded_at = float("-inf")
        self._background = False

    def get(self, name: str) -> ChannelConfig | None:
        """The channel with its secret decrypted; NotifyError if its secret is unreadable."""
        snapshot = self._current()
        if name in snapshot.broken:
            raise NotifyError(f"channel {name!r} unusable: {snapshot.broken[name]}")
        return snapshot.channels.get(name)

    def rules(self) -> list[RouteRule]:
        """The routing rules of every enabled channel."""
        return list(self._current().rules)

    def invalidate(self) -> None:
        """Reload on the next lookup (tests, and after a known edit)."""
        self._loaded_at = float("-inf")

    def refresh(self) -> None:
        """Reload now; on a database error keep the previous snapshot (or raise if none)."""
        try:
            snapshot = self._load()
        except SQLAlchemyError as exc:
            if self._snapshot is None:
                raise RetryableError(f"channels unavailable: {type(exc).__name__}") from exc
            log.warning("channels not reloaded (%s); using the previous ones", type(exc).__name__)
            return
        self._snapshot = snapshot
        self._loaded_at = self.monotonic()

    async def run(self) -> None:
        """Reload every `refresh_s` in a thread, so that lookups never wait for the database
        (a slow or unreachable database would otherwise stall the worker's event loop)."""
        self._background = True
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except RetryableError as exc:
                log.warning("%s; will retry", exc)
            await asyncio.sleep(self.refresh_s)

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and (
            self._background or self.monotonic() - self._loaded_at < self.refresh_s
        ):
            return snapshot
        # Without the background reload (tests, tools), or before the first load: read now.
        self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def _load(self) -> _Snapshot:
        with self.engine.connect() as conn:
            rows = list(conn.execute(QUERY))
        channels: dict[str, ChannelConfig] = {}
        broken: dict[str, str] = {}
        rules: list[RouteRule] = []
        for name, kind, url, token, options, specs, enabled in rows:
            try:
                secret = self.box.decrypt(token) if token else ""
            except ConfigurationError as exc:
                broken[name] = str(exc)
                continue
            channels[name] = ChannelConfig(
                name=name,
                kind=cast(ChannelKind, kind),
                url=url or "",
                secret=secret,
                options=dict(_json(options, {})),
            )
            if enabled:
                rules.extend(rules_from_stored(name, list(_json(specs, []))))
        return _Snapshot(channels, broken, rules)


class WithExtraChannels:
    """The table's channels plus fixed ones that hear about every incident change.

    For channels that are not configured through the api, e.g. `vigil demo --webhook URL`.
    """

    def __init__(self, table: DatabaseChannels, extra: Sequence[ChannelConfig]) -> None:
        self.table = table
        self.extra = {c.name: c for c in extra}
        self._catch_all = [RouteRule(channels=tuple(self.extra))] if self.extra else []

    def get(self, name: str) -> ChannelConfig | None:
        """A fixed channel by name, else the table's."""
        return self.extra.get(name) or self.table.get(name)

    def rules(self) -> list[RouteRule]:
        """The table's rules, then a catch-all to the fixed channels."""
        return self.table.rules() + self._catch_all
