"""Notification channels (audited CRUD, secrets encrypted) and delivery status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.api.audit import service as audit
from services.api.auth.principal import Principal
from services.api.incidents.models import Incident
from services.api.notifications.models import NotificationChannel, NotificationDelivery
from services.api.notifications.schemas import (
    SECRET_IS_URL,
    ChannelCreate,
    ChannelRead,
    RuleSpec,
    check_complete,
    check_url,
)
from services.core.errors import Conflict, NotFound, VigilError
from services.core.events import Event, NotificationResult, new_id, utcnow
from services.remediate.notify.base import ChannelConfig, ChannelKind
from services.remediate.notify.secretbox import SecretBox, redacted


class InvalidChannel(VigilError):
    """A channel change would leave it unusable (e.g. a webhook without a secret)."""


def create(
    *, session: Session, actor: Principal, body: ChannelCreate, box: SecretBox
) -> NotificationChannel:
    """Create a channel; its secret is stored encrypted. Conflict if the name is taken."""
    if session.scalar(select(NotificationChannel.id).where(NotificationChannel.name == body.name)):
        raise Conflict(f"a channel named {body.name!r} exists")
    now = utcnow()
    channel = NotificationChannel(
        id=new_id(),
        name=body.name,
        kind=body.kind,
        url=body.url or "",
        secret_token=box.encrypt(body.secret) if body.secret else "",
        options=dict(body.options or {}),
        rules=[r.model_dump(mode="json") for r in body.rules or []],
        enabled=True if body.enabled is None else body.enabled,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create with the same name
        raise Conflict(f"a channel named {body.name!r} exists") from exc
    _audit(session, actor, "channel.create", channel)
    return channel


def list_channels(*, session: Session) -> Sequence[NotificationChannel]:
    """Every channel, by name."""
    return session.scalars(select(NotificationChannel).order_by(NotificationChannel.name)).all()


def get(*, session: Session, channel_id: str) -> NotificationChannel:
    """One channel; raises NotFound."""
    channel = session.get(NotificationChannel, channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} not found")
    return channel


def update(
    *,
    session: Session,
    actor: Principal,
    channel_id: str,
    changes: dict[str, Any],
    box: SecretBox,
) -> NotificationChannel:
    """Apply the given changes; InvalidChannel if the result would be incomplete."""
    channel = get(session=session, channel_id=channel_id)
    secret = changes.pop("secret", None)
    url = changes.get("url", channel.url)
    options = changes.get("options", channel.options)
    if secret is not None and secret and channel.kind in SECRET_IS_URL:
        try:
            check_url(secret)
        except ValueError as exc:
            raise InvalidChannel(f"secret: {exc}") from None
    has_secret = bool(secret) if secret is not None else bool(channel.secret_token)
    try:
        check_complete(channel.kind, url or "", has_secret, options or {})
    except ValueError as exc:
        raise InvalidChannel(str(exc)) from None
    if secret is not None:
        channel.secret_token = box.encrypt(secret) if secret else ""
    for field in ("url", "options", "enabled"):
        if changes.get(field) is not None:
            setattr(channel, field, changes[field])
    if changes.get("rules") is not None:
        channel.rules = [
            RuleSpec.model_validate(r).model_dump(mode="json") for r in changes["rules"]
        ]
    channel.updated_at = utcnow()
    detail = {"changed": sorted(k for k, v in changes.items() if v is not None)}
    if secret is not None:
        detail["changed"].append("secret")
    _audit(session, actor, "channel.update", channel, detail)
    return channel


def delete(*, session: Session, actor: Principal, channel_id: str) -> None:
    """Remove a channel; notifications already planned for it fail as unknown-channel."""
    channel = get(session=session, channel_id=channel_id)
    _audit(session, actor, "channel.delete", channel)
    session.delete(channel)


def read(channel: NotificationChannel) -> ChannelRead:
    """The API view: secret redacted, URL reduced to scheme and host."""
    return ChannelRead(
        id=channel.id,
        name=channel.name,
        kind=cast(Any, channel.kind),
        url=_url_hint(channel.url),
        secret=redacted(channel.secret_token),
        options=dict(channel.options or {}),
        rules=[RuleSpec.model_validate(r) for r in channel.rules or []],
        enabled=channel.enabled,
        created_by=channel.created_by,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def config_of(channel: NotificationChannel, box: SecretBox) -> ChannelConfig:
    """The channel as the notifiers use it, secret decrypted (ConfigurationError on a key
    mismatch)."""
    return ChannelConfig(
        name=channel.name,
        kind=cast(ChannelKind, channel.kind),
        url=channel.url,
        secret=box.decrypt(channel.secret_token) if channel.secret_token else "",
        options=dict(channel.options or {}),
    )


def record_deliveries(*, session: Session, events: Sequence[Event]) -> int:
    """Keep the latest outcome of each notification of a known incident; returns how many."""
    results = {e.notification_id: e for e in events if isinstance(e, NotificationResult)}
    if not results:
        return 0
    incident_ids = {r.incident_id for r in results.values()}
    known = set(session.scalars(select(Incident.id).where(Incident.id.in_(incident_ids))))
    now = utcnow()
    stored = {
        d.notification_id: d
        for d in session.scalars(
            select(NotificationDelivery).where(NotificationDelivery.notification_id.in_(results))
        )
    }
    count = 0
    for notification_id, result in results.items():
        if result.incident_id not in known:
            continue
        row = stored.get(notification_id)
        if row is None:
            row = NotificationDelivery(notification_id=notification_id)
            session.add(row)
        row.incident_id = result.incident_id
        row.channel = result.channel
        row.status = result.status
        row.attempts = result.attempts
        row.detail = result.detail[:2000]
        row.provider_ref = result.provider_ref[:256]
        row.updated_at = now
        count += 1
    return count


def list_deliveries(*, session: Session, incident_id: str) -> Sequence[NotificationDelivery]:
    """The delivery status of an incident's notifications; NotFound for an unknown incident."""
    if session.get(Incident, incident_id) is None:
        raise NotFound(f"incident {incident_id} not found")
    query = (
        select(NotificationDelivery)
        .where(NotificationDelivery.incident_id == incident_id)
        .order_by(NotificationDelivery.updated_at, NotificationDelivery.notification_id)
    )
    return session.scalars(query).all()


def _url_hint(url: str) -> str:
    parts = urlsplit(url) if url else None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts and parts.netloc else ""


def _audit(
    session: Session,
    actor: Principal,
    action: str,
    channel: NotificationChannel,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target_type="channel",
        target_id=channel.id,
        detail={"name": channel.name, "kind": channel.kind, **(detail or {})},
    )
