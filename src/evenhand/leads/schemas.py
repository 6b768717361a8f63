"""API shapes for leads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

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


Count = Annotated[int, Field(ge=0, le=10_000_000)]
Outcome = Literal["converted", "disqualified", "open"]
# At most this many behaviour events are recorded for one count column of an import; the rest only add to nothing
# (no shipped rule counts that far).
MAX_EVENTS_PER_COUNT = 200
_COUNT_KINDS = {"page_views": EventKind.PAGE_VIEW, "downloads": EventKind.WHITEPAPER_DOWNLOAD,
                "webinars": EventKind.WEBINAR, "forms": EventKind.FORM_SUBMIT, "email_opens": EventKind.EMAIL_OPEN,
                "email_clicks": EventKind.EMAIL_CLICK}


class LeadImport(LeadCreate):
    """A lead from a company's own export: besides what an arriving lead carries, its own dates, the rep who had
    it, its outcome when known, and its behaviour as counts (``TotalVisits``, ``Total Time Spent on Website``)."""

    created_at: Moment | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    owner_id: Annotated[int, Field(ge=1)] | None = None  # the owner, once found (not a mapping field)
    outcome: Outcome | None = None
    outcome_at: Moment | None = None
    disqualify_reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    first_response_at: Moment | None = None
    page_views: Count | None = None
    dwell_seconds: Count | None = None
    downloads: Count | None = None
    webinars: Count | None = None
    forms: Count | None = None
    email_opens: Count | None = None
    email_clicks: Count | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> LeadImport:
        if self.outcome_at is not None and self.outcome in (None, "open"):
            raise ValueError(N_("An outcome date needs an outcome (converted or disqualified)."))
        for later, problem in ((self.outcome_at, N_("The outcome date is before the lead was created.")),
                               (self.first_response_at, N_("The first response is before the lead was created."))):
            if later is not None and self.created_at is not None and later < self.created_at:
                raise ValueError(problem)
        return self

    def counted_events(self) -> list[CountedEvent]:
        """The behaviour counts as events at the lead's creation (dwell time spread over its page views), so
        scoring, rescoring and the predictive model read them as they read events that arrived one by one."""
        at = self.created_at
        views = min(self.page_views or 0, MAX_EVENTS_PER_COUNT)
        dwell = self.dwell_seconds or 0
        if dwell and not views:
            views = 1
        events = [CountedEvent(EventKind.PAGE_VIEW, at, min(dwell // views + (i < dwell % views), 86_400) or None)
                  for i in range(views)]
        for field_name, kind in _COUNT_KINDS.items():
            if kind is not EventKind.PAGE_VIEW:
                events += [CountedEvent(kind, at)] * min(getattr(self, field_name) or 0, MAX_EVENTS_PER_COUNT)
        return events


class CountedEvent(NamedTuple):
    """An event an export's count stands for: what ``EventCreate`` carries, without validating it again."""

    kind: EventKind
    occurred_at: datetime | None
    dwell_seconds: int | None = None
    detail: str | None = None


IMPORT_ONLY = frozenset(LeadImport.model_fields) - frozenset(LeadCreate.model_fields)
MAPPED_FIELDS = tuple(name for name in LeadImport.model_fields if name not in ("events", "owner_id"))


class LeadOutcomeSet(Strict):
    """A lead's outcome: converted (to a deal or a customer) or disqualified with a reason."""

    outcome: Literal["converted", "disqualified"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    opportunity_id: Annotated[int, Field(ge=1, le=2**62)] | None = None
    account_id: Annotated[int, Field(ge=1, le=2**62)] | None = None
    at: Moment | None = None


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
    closed_at: datetime | None = Field(description="When its outcome (converted or disqualified) was recorded")
    disqualify_reason: str | None
    converted_account_id: int | None


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
