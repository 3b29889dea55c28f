"""PagerDuty Events API v2 (POST /v2/enqueue) -> ExternalAlert events.

`trigger` fires an alert, `resolve` resolves it, `acknowledge` is published as still firing
with the label `event_action=acknowledge`. Alerts are identified by `dedup_key`; a trigger
without one gets a key derived from its routing key and payload (returned to the sender, as
PagerDuty does), so a retried trigger keeps its key. The service is the payload's `component`,
else its `group`, else its `source`. The routing key is never copied into the alert.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.core.events import ExternalAlert, Severity, stable_id
from services.ingest.formats import DecodeContext, Decoded, DecodeError
from services.ingest.formats.validation import first_error


class PayloadIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = Field(default=None, max_length=255)
    group: str | None = Field(default=None, max_length=255)
    class_: str | None = Field(default=None, alias="class", max_length=255)
    custom_details: Any = None


class EventIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routing_key: str = Field(min_length=1, max_length=128)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: PayloadIn | None = None

    @model_validator(mode="after")
    def _needs(self) -> EventIn:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("payload is required for a trigger")
        if self.event_action != "trigger" and self.dedup_key is None:
            raise ValueError(f"dedup_key is required for {self.event_action}")
        return self


def decode(data: Any, context: DecodeContext) -> Decoded:
    """Decode a parsed event; the alert's fingerprint is the dedup key to answer with."""
    try:
        event = EventIn.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(*first_error(exc)) from None
    payload = event.payload
    dedup_key = event.dedup_key or stable_id(
        event.routing_key,
        json.dumps(payload.model_dump(mode="json", by_alias=True), sort_keys=True)
        if payload
        else "",
    )
    labels: dict[str, str] = {"event_action": event.event_action}
    service, summary, severity = "unknown", "", Severity.WARNING
    starts_at = context.now
    if payload is not None:
        service = payload.component or payload.group or payload.source
        summary, severity = payload.summary, Severity(payload.severity)
        starts_at = payload.timestamp or context.now
        extra = {"source": payload.source, "component": payload.component}
        extra.update({"group": payload.group, "class": payload.class_})
        labels.update({k: v for k, v in extra.items() if v})
    status: Literal["firing", "resolved"] = (
        "resolved" if event.event_action == "resolve" else "firing"
    )
    body = json.dumps(data, sort_keys=True, default=str)
    out = Decoded()
    out.alerts.append(
        ExternalAlert(
            id=stable_id("pagerduty", context.tenant, body),
            source="pagerduty",
            fingerprint=dedup_key,
            status=status,
            severity=severity,
            service=service,
            summary=summary,
            labels=labels,
            starts_at=starts_at,
            ends_at=context.now if status == "resolved" else None,
            tenant=context.tenant,
        )
    )
    return out
