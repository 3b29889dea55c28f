"""REST routes for notification channels and the delivery status of an incident's messages."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from services.api.audit import service as audit
from services.api.deps import Admin, SessionDep, TransactionDep, Viewer
from services.api.notifications import service
from services.api.notifications.config import NotifyConfig
from services.api.notifications.probe import send_test
from services.api.notifications.schemas import (
    ChannelCreate,
    ChannelList,
    ChannelRead,
    ChannelUpdate,
    DeliveryList,
    DeliveryRead,
    ProbeResult,
)
from services.api.openapi import errors
from services.remediate.notify.base import ChannelConfig
from services.remediate.notify.http import Outbound

router = APIRouter(prefix="/api/v1", tags=["notifications"])

ChannelId = Annotated[str, Path(max_length=64, description="The channel's id.")]
IncidentId = Annotated[str, Path(max_length=64, description="The incident's id.")]


def _config(request: Request) -> NotifyConfig:
    config: NotifyConfig = request.app.state.notify
    return config


@router.get("/channels", response_model=ChannelList, summary="List channels", responses=errors())
def list_channels(session: SessionDep, _: Viewer) -> ChannelList:
    """Every notification channel (secrets redacted)."""
    return ChannelList(items=[service.read(c) for c in service.list_channels(session=session)])


@router.post("/channels", response_model=ChannelRead, status_code=201, responses=errors(409))
def create_channel(
    request: Request, tx: TransactionDep, actor: Admin, body: ChannelCreate
) -> ChannelRead:
    """Add a channel (admin). Its secret is stored encrypted and never returned."""
    with tx() as session:
        channel = service.create(session=session, actor=actor, body=body, box=_config(request).box)
        return service.read(channel)


@router.get("/channels/{channel_id}", response_model=ChannelRead, responses=errors(404))
def get_channel(session: SessionDep, _: Viewer, channel_id: ChannelId) -> ChannelRead:
    """One channel (secret redacted)."""
    return service.read(service.get(session=session, channel_id=channel_id))


@router.patch("/channels/{channel_id}", response_model=ChannelRead, responses=errors(404))
def update_channel(
    request: Request, tx: TransactionDep, actor: Admin, channel_id: ChannelId, body: ChannelUpdate
) -> ChannelRead:
    """Change a channel (admin); omitted fields stay, `secret: ""` removes the secret."""
    changes = body.model_dump(exclude_unset=True)
    if body.rules is not None:
        changes["rules"] = [r.model_dump(mode="json") for r in body.rules]
    with tx() as session:
        channel = service.update(
            session=session,
            actor=actor,
            channel_id=channel_id,
            changes=changes,
            box=_config(request).box,
        )
        return service.read(channel)


@router.delete("/channels/{channel_id}", status_code=204, responses=errors(404))
def delete_channel(tx: TransactionDep, actor: Admin, channel_id: ChannelId) -> Response:
    """Remove a channel (admin)."""
    with tx() as session:
        service.delete(session=session, actor=actor, channel_id=channel_id)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test", response_model=ProbeResult, responses=errors(404))
async def test_channel(
    request: Request, tx: TransactionDep, actor: Admin, channel_id: ChannelId
) -> ProbeResult:
    """Send a test message through the channel now (admin): one attempt, result reported."""
    config = _config(request)

    def load() -> ChannelConfig:
        with tx() as session:
            channel = service.get(session=session, channel_id=channel_id)
            audit.record(
                session,
                actor=actor,
                action="channel.test",
                target_type="channel",
                target_id=channel.id,
                detail={"name": channel.name, "kind": channel.kind},
            )
            return service.config_of(channel, config.box)

    channel = await asyncio.to_thread(load)
    outbound = Outbound(config.policy, timeout_s=config.timeout_s)
    try:
        return await send_test(channel, outbound, config.link_base)
    finally:
        await outbound.aclose()


@router.get(
    "/incidents/{incident_id}/deliveries",
    response_model=DeliveryList,
    summary="Delivery status of an incident's notifications",
    responses=errors(404),
)
def list_deliveries(session: SessionDep, _: Viewer, incident_id: IncidentId) -> DeliveryList:
    """Each notification sent about the incident: delivered, or failed (dead-lettered)."""
    rows = service.list_deliveries(session=session, incident_id=incident_id)
    return DeliveryList(items=[DeliveryRead.model_validate(r) for r in rows])
