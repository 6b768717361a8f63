"""API shapes for leads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evenhand.models import LeadStatus

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    company: Text
    contact_name: Short | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200,
                                            pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40,
                                            pattern=r"^[0-9+() -]{3,40}$")] | None = None
    title: Short | None = None
    industry: Short | None = None
    region: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = None
    company_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


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
