"""API shapes for activities."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from evenhand.models import ActivityType, Direction, SourceSystem


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    type: ActivityType
    direction: Direction
    source_system: SourceSystem
    external_id: str
    rep_id: int
    lead_id: int | None
    opportunity_id: int | None
    occurred_at: datetime
    duration_seconds: int | None
    answered: bool | None
    replied: bool | None
    attachment_count: int
    subject: str | None
