"""API shapes for opportunities."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from evenhand.models import Stage


class OpportunityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    lead_id: int | None
    account_id: int | None
    owner_id: int
    stage: Stage
    amount: Decimal
    discount_pct: Decimal
    won: bool | None
    created_at: datetime
    stage_changed_at: datetime | None
    closed_at: datetime | None


class StageChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_stage: Stage | None
    to_stage: Stage
    changed_at: datetime
