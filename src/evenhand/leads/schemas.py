"""API shapes for leads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from evenhand.i18n import N_
from evenhand.kit.schema import DEFERRED, Checked, IsoDate, Moment, Strict
from evenhand.models import EventKind, LeadStatus

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class EventCreate(Strict):
    kind: EventKind
    occurred_at: Moment | None = None
    dwell_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    detail: Annotated[str, StringConstraints(max_length=300)] | None = None

    @field_validator("dwell_seconds")
    @classmethod
    def _dwell_only_on_page_views(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value and info.data.get("kind") is not EventKind.PAGE_VIEW:
            raise ValueError(N_("Only page views carry dwell time."))
        return value


class LeadCreate(Strict):
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
    # What the contact did before becoming a lead, as the marketing platform saw it (site visits, a
    # whitepaper, a webinar): recorded with the lead and counted in the score it is routed on. A lead
    # posted again (same source and external id) is not changed, so its events are not added twice.
    events: Annotated[list[EventCreate], Field(max_length=500)] = Field(default_factory=list)


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
    score_model_version: int | None
    duplicate_of_id: int | None
    backfilled: bool = Field(description="Taken in from the company's history: never routed, nobody notified")
    page_views: int
    dwell_seconds: int
    downloads: int
    webinars: int
    forms: int
    email_opens: int
    email_clicks: int
    last_event_at: datetime | None
    created_at: datetime
    assigned_at: datetime | None
    first_response_at: datetime | None


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    lead_id: int
    kind: EventKind
    occurred_at: datetime
    dwell_seconds: int | None
    detail: str | None


class AssignmentRead(BaseModel):
    """How the lead was routed on intake: to whom, on which track, and the decision that proves it."""

    decision_id: int
    outcome: str
    rep_id: int | None
    track: str | None
    pool_id: str | None


class LeadIntakeRead(LeadRead):
    assignment: AssignmentRead | None = None


class LeadBatch(Strict):
    """Rows are validated one by one so an error can name its row; see ``skip_invalid``."""

    leads: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=10_000), DEFERRED]
    skip_invalid: bool = False


class RowProblem(BaseModel):
    row: int
    field: str
    message: str


class BatchItem(BaseModel):
    row: int
    id: int
    created: bool
    duplicate_of_id: int | None
    score: int | None
    assignment: AssignmentRead | None = None


class BatchResult(BaseModel):
    created: int
    existing: int
    rejected: list[RowProblem]
    items: list[BatchItem]


class EventBatch(Strict):
    events: Annotated[list[EventCreate], Field(min_length=1, max_length=10_000)]


class LeadFilter(Checked):
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    status: LeadStatus | None = None
    owner_id: Annotated[int, Field(ge=1, le=2**62)] | None = None
    source: Annotated[str, StringConstraints(max_length=40)] | None = None
    region: Annotated[str, StringConstraints(max_length=32)] | None = None
    industry: Annotated[str, StringConstraints(max_length=60)] | None = None
    score_min: Annotated[int, Field(ge=0, le=100)] | None = None
    score_max: Annotated[int, Field(ge=0, le=100)] | None = None
    created_from: IsoDate | None = None
    created_to: IsoDate | None = None
    include_duplicates: bool = True
