"""The idempotency ledger: what happened to each command id, durable before acting.

Entries live in a bus state store keyed by the command's target (its partition key, as the
store requires), one JSON document per target mapping command ids to entries. Old entries are
pruned by age and count so a document stays small.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from services.core.bus.base import StateStore
from services.remediate.clock import Clock


@dataclass(frozen=True)
class LedgerEntry:
    """`started`: recorded before the executor ran; `finished`: `result` holds the outcome."""

    command_id: str
    state: Literal["started", "finished"]
    at: str  # ISO timestamp of the last change
    result: dict[str, Any] | None = None


class Ledger(Protocol):
    """Where the worker records commands, keyed by (target, command id)."""

    def get(self, target: str, command_id: str) -> LedgerEntry | None:
        """The entry of a command, or None if it was never seen."""
        ...

    async def started(self, target: str, command_id: str) -> None:
        """Record (durably) that the command is about to run."""
        ...

    async def finished(self, target: str, command_id: str, result: dict[str, Any]) -> None:
        """Record (durably) the command's result."""
        ...


class StoreLedger:
    """A `Ledger` over a bus `StateStore` (Faust table on Kafka, dict in memory)."""

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        *,
        retention: timedelta = timedelta(days=7),
        max_per_target: int = 500,
    ) -> None:
        self.store = store
        self.clock = clock
        self.retention = retention
        self.max_per_target = max_per_target

    def _load(self, target: str) -> dict[str, dict[str, Any]]:
        raw = self.store.get(target)
        if raw is None:
            return {}
        data: dict[str, dict[str, Any]] = json.loads(raw)
        return data

    def get(self, target: str, command_id: str) -> LedgerEntry | None:
        """The entry of a command, or None if it was never seen."""
        entry = self._load(target).get(command_id)
        return LedgerEntry(**entry) if entry is not None else None

    async def started(self, target: str, command_id: str) -> None:
        """Record (durably) that the command is about to run."""
        await self._write(target, LedgerEntry(command_id, "started", self._now()))

    async def finished(self, target: str, command_id: str, result: dict[str, Any]) -> None:
        """Record (durably) the command's result."""
        await self._write(target, LedgerEntry(command_id, "finished", self._now(), result))

    def _now(self) -> str:
        return self.clock.now().isoformat()

    async def _write(self, target: str, entry: LedgerEntry) -> None:
        entries = self._load(target)
        entries[entry.command_id] = asdict(entry)
        horizon = self.clock.now() - self.retention
        kept = [
            (cid, e) for cid, e in entries.items() if datetime.fromisoformat(e["at"]) >= horizon
        ]
        kept = kept[-self.max_per_target :]
        self.store.put(target, json.dumps(dict(kept), separators=(",", ":")).encode())
        await self.store.flush()
