"""The api's remediation loop: propose actions when incidents open or change, record worker
results, verify, expire unanswered requests, and keep the workers' kill switch current.

Matching runs in the api process because the api owns incidents: it reads its own
`incidents` events (embedded and in production alike), so a proposal is made once per
incident change whichever replica recorded the change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from services.api.incidents.models import Incident
from services.api.remediation import killswitch, outcomes, policies, service
from services.api.remediation.context import RemediationContext
from services.core.db import transaction
from services.core.errors import RetryableError
from services.core.events import (
    Event,
    IncidentEvent,
    IncidentEventType,
    IncidentStatus,
    RemediationControl,
    utcnow,
)
from services.remediate.policies import propose

log = logging.getLogger(__name__)

_PROPOSE_ON = {IncidentEventType.OPENED, IncidentEventType.UPDATED, IncidentEventType.REOPENED}


def on_incident_events(
    *, session: Session, ctx: RemediationContext, events: Sequence[Event]
) -> int:
    """Propose actions for opened/changed incidents, verify on resolution; returns proposals."""
    changes = [e for e in events if isinstance(e, IncidentEvent)]
    resolved = {e.incident_id for e in changes if e.type is IncidentEventType.RESOLVED}
    if resolved:  # one query for the batch, not one per event
        outcomes.verify(session=session, ctx=ctx, now=utcnow(), incident_ids=resolved)
    wanted = [e for e in changes if e.type in _PROPOSE_ON and not e.silenced]
    if not wanted:
        return 0
    in_force = policies.in_force(session, ctx.file_policies)
    if not in_force.policies:
        return 0
    created = 0
    for event in wanted:
        incident = session.get(Incident, event.incident_id)
        if incident is None or incident.status == IncidentStatus.RESOLVED.value:
            continue
        proposals = propose(in_force, service.incident_facts(session, incident))
        # A reopened incident is a new episode: the same action may be proposed again.
        episode = event.id if event.type is IncidentEventType.REOPENED else ""
        created += len(
            service.propose(
                session=session, incident=incident, proposals=proposals,
                requested_by="remediation", episode=episode,
                fallback_channel=ctx.escalation_channel,
                link_base=ctx.link_base,
            )
        )  # fmt: skip
    return created


def after_activity(session: Session, ctx: RemediationContext, events: Sequence[Event]) -> None:
    """Worker results onto their actions, then verify the incidents they touched."""
    if touched := set(outcomes.apply_results(session=session, events=events)):
        outcomes.verify(session=session, ctx=ctx, now=utcnow(), incident_ids=touched)


class RemediationLoop:
    """Bus handler for `incidents` (proposals) and the periodic sweep (expiry, verification,
    held actions, kill-switch heartbeat)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        ctx: RemediationContext,
        publish_control: Callable[[list[RemediationControl]], Awaitable[None]],
        *,
        interval_s: float = 5.0,
        control_every_s: float = 60.0,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.factory = factory
        self.ctx = ctx
        self.publish_control = publish_control
        self.interval_s = interval_s
        self.control_every_s = control_every_s
        self.on_commit = on_commit
        self.proposed = 0
        self.expired = 0
        self.verified = 0
        self._control_wake = asyncio.Event()

    async def handle_incidents(self, events: Sequence[Event]) -> None:
        """Propose actions for a batch of incident changes; returns after the commit."""
        batch = [cast(IncidentEvent, e) for e in events]
        created = await asyncio.to_thread(self._propose, batch)
        self.proposed += created
        self.on_commit()

    def _propose(self, events: list[IncidentEvent]) -> int:
        try:
            with transaction(self.factory) as session:
                return on_incident_events(session=session, ctx=self.ctx, events=events)
        except IntegrityError as exc:
            # Another replica proposed the same action first: the retry finds it and skips.
            raise RetryableError("remediation proposal raced another writer") from exc
        except (OperationalError, InterfaceError) as exc:
            raise RetryableError(f"database unavailable: {type(exc.orig).__name__}") from exc

    def kill_switch_changed(self) -> None:
        """Send the switch to the workers now rather than at the next heartbeat."""
        self._control_wake.set()

    async def sweep_once(self) -> None:
        """Expire, verify and release held actions once."""
        expired, verified = await asyncio.to_thread(self._sweep)
        self.expired += expired
        self.verified += verified
        if expired or verified:
            self.on_commit()

    def _sweep(self) -> tuple[int, int]:
        now = utcnow()
        with transaction(self.factory) as session:
            expired = service.expire_due(
                session=session, now=now, fallback_channel=self.ctx.escalation_channel
            )
            verified = outcomes.verify(session=session, ctx=self.ctx, now=now)
            if not killswitch.state(session).engaged:
                service.release_held(session=session, now=now)
        return expired, verified

    async def send_control(self) -> None:
        """Publish the kill switch's current state to every worker."""
        events = await asyncio.to_thread(self._control_events)
        await self.publish_control(events)

    def _control_events(self) -> list[RemediationControl]:
        with self.factory() as session:
            return killswitch.control_events(killswitch.state(session))

    async def run(self) -> None:
        """Sweep every `interval_s`, tell workers the switch on change and periodically."""
        await asyncio.gather(self._sweeping(), self._controlling())

    async def _sweeping(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - e.g. the database is down; keep sweeping
                log.exception("remediation sweep failed; will retry")
            await asyncio.sleep(self.interval_s)

    async def _controlling(self) -> None:
        while True:
            try:
                await self.send_control()
            except Exception:  # noqa: BLE001 - the bus may be down; the next beat retries
                log.exception("could not send the kill switch to the workers; will retry")
            self._control_wake.clear()
            try:
                await asyncio.wait_for(self._control_wake.wait(), timeout=self.control_every_s)
            except TimeoutError:
                pass
