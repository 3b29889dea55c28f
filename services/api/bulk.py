"""Bulk inserts: PostgreSQL COPY when available, plain executemany elsewhere (SQLite).

A batch of signals writes two rows per signal (the signal and its timeline entry); COPY costs
the server a fraction of one INSERT per row and is what lets one consumer keep up with
thousands of anomalies per second.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.orm import Session

from services.core.db import Base


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same keys) into `model`'s table in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        session.execute(insert(model), list(rows))
        return
    from psycopg.types.json import Json

    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    raw: Any = connection.connection.dbapi_connection  # a psycopg.Connection
    table = model.__tablename__
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([_adapt(row[c], Json) for c in columns])


def _adapt(value: Any, json: Any) -> Any:
    if isinstance(value, dict | list):
        return json(value, dumps=_dumps)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _dumps(value: Any) -> str:
    # orjson: several times faster than the standard library for the payloads COPY writes.
    return orjson.dumps(value).decode()
