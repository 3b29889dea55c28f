"""API schemas for operator feedback."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.events import FeedbackLabel


class FeedbackBase(BaseModel):
    label: FeedbackLabel = Field(
        description="true_positive, false_positive, wrong_grouping (some signals do not "
        "belong together) or root_cause (`series` names the cause)."
    )
    comment: str = Field(default="", max_length=10_000, description="Free text.")
    series: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Series or alerts the label is about (root cause, wrongly grouped).",
    )


class FeedbackCreate(FeedbackBase):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "root_cause",
                    "comment": "connection pool exhausted after the config push",
                    "series": ['db_connections{service="payments"}'],
                }
            ]
        }
    )


class FeedbackRead(FeedbackBase):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7e6d5c4b3a2910ffeeddccbbaa998877",
                    "incident_id": "5f0c1d2e3a4b4c5d8e9f001122334455",
                    "label": "false_positive",
                    "comment": "planned load test",
                    "series": [],
                    "author": "alice",
                    "created_at": "2026-11-27T11:00:00Z",
                }
            ]
        },
    )

    id: str
    incident_id: str
    author: str
    created_at: datetime
