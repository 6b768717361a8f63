"""API shapes for leads."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from evenhand.models import LeadStatus


class LeadRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str
    external_id: str
    company: str
    contact_name: str | None
    email: str | None
    phone: str | None
    title: str | None
    industry: str | None
    region: str | None
    company_size: int | None
    status: LeadStatus
    owner_id: int | None
    score: int | None
    created_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None
