"""API shapes for activities, and the row an export's activity becomes.

An activity names its rep and what it concerns by the keys the source system knows them by: the rep by external
id, e-mail or username; a deal by its CRM id; a lead by its CRM id, or the contact's e-mail or phone. Matching them
to evenhand's ids is the service's work (``linking``); the schemas only check the values."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from evenhand.i18n import N_
from evenhand.kit.schema import DbId, Moment, Strict, clean_text
from evenhand.models import ActivityType, Direction, SourceSystem

Reason = Literal["no_rep", "no_link"]
NO_REP: Reason = "no_rep"
NO_LINK: Reason = "no_link"

Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]  # a CRM note's text, lines kept
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Seconds = Annotated[int, Field(ge=0, le=7 * 86_400)]  # a week: anything longer is a mistake in the export
_SPAN = re.compile(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
BAD_DURATION = N_("Must be a duration like 0:03:25 (H:MM:SS) or 3:25 (MM:SS), or whole seconds")
NOTES_ONLY = N_("Only a note declares the activity it records; leave declared_type empty for other types.")
BAD_CLOCK = N_("Must be a time of day like 14:05 or 14:05:30")


def _span(value: Any) -> Any:
    """H:MM:SS (three parts) or MM:SS (two), or whole seconds, as seconds."""
    if not isinstance(value, str):
        return value
    clean_text(value)
    text = value.strip()
    if text.isdigit():
        return int(text)
    found = _SPAN.match(text)
    if found is None:
        raise ValueError(BAD_DURATION)
    first, second, third = found.groups()
    if third is None:
        return int(first) * 60 + int(second)
    return int(first) * 3600 + int(second) * 60 + int(third)


def _clock(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    clean_text(value)
    found = _CLOCK.match(value.strip())
    if found is None:
        raise ValueError(BAD_CLOCK)
    hour, minute, second = found.groups()
    return time(int(hour), int(minute), int(second or 0))


Duration = Annotated[Seconds, BeforeValidator(_span, json_schema_input_type=str)]
ClockTime = Annotated[time, BeforeValidator(_clock, json_schema_input_type=str)]


class ActivityUpdate(Strict):
    """What a CRM of record changes on an activity it sent (``PATCH``): only the fields given change. A ``rep``,
    ``lead``, ``opportunity``, ``email`` or ``phone`` given is matched again."""

    type: ActivityType | None = None
    direction: Direction | None = None
    occurred_at: Moment | None = None
    duration_seconds: Seconds | None = None
    duration: Duration | None = Field(default=None, description="H:MM:SS or MM:SS; instead of duration_seconds")
    answered: bool | None = None
    replied: bool | None = None
    subject: Note | None = None
    recording_ref: Note | None = None
    attachment_count: Count | None = Field(default=None, description="An e-mail's attachments")
    message_count: Count | None = Field(default=None, description="The messages a conversation's record stands for")
    body: Body | None = Field(default=None, description="A CRM note's text")
    note: Body | None = Field(default=None, description="Another name for body (an export's Notes column)")
    declared_type: ActivityType | None = Field(
        default=None, description="The activity a CRM note says it records (call, visit, meeting…); notes only")
    rep: Person | None = Field(default=None, description="The rep's external id, e-mail or username")
    opportunity: Key | None = Field(default=None, description="The deal's id in the CRM")
    lead: Key | None = Field(default=None, description="The lead's id in the CRM")
    email: Person | None = Field(default=None, description="The contact's e-mail, matched to a lead")
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = Field(
        default=None, description="The contact's phone, matched to a lead (any formatting, with or without +86)")

    @model_validator(mode="after")
    def _one_duration(self) -> Any:
        """``duration`` is another way to write ``duration_seconds``: folded into it, and never both."""
        if self.duration is not None:
            if self.duration_seconds is not None and self.duration_seconds != self.duration:
                raise ValueError(N_("Give duration or duration_seconds, not both."))
            self.duration_seconds, self.duration = self.duration, None
        return self

    @field_validator("declared_type")
    @classmethod
    def _declared_by_notes(cls, value: ActivityType | None, info: ValidationInfo) -> ActivityType | None:
        """Only a CRM note declares what it records; any other activity is what its type says."""
        if value is not None and info.data.get("type") not in (None, ActivityType.NOTE):
            raise ValueError(NOTES_ONLY)
        return value

    @model_validator(mode="after")
    def _one_body(self) -> Any:
        """``note`` is another name for ``body``: folded into it, and never both with different text."""
        if self.note is not None:
            if self.body is not None and self.body != self.note:
                raise ValueError(N_("Give body or note, not both."))
            self.body, self.note = self.note, None
        return self


class ActivityCreate(ActivityUpdate):
    """One activity as its source system sends it (``POST``) or an export's row states it (``evenhand import
    activities``). ``occurred_time`` sets the time of day of ``occurred_at`` when an export has them in two
    columns (Call Date, Call Time)."""

    source_system: SourceSystem = SourceSystem.CRM
    external_id: Key
    type: ActivityType
    direction: Direction
    occurred_at: Moment
    occurred_time: ClockTime | None = None

    @model_validator(mode="after")
    def _time_of_day(self) -> Any:
        if self.occurred_time is not None:
            at = self.occurred_time
            self.occurred_at = self.occurred_at.replace(hour=at.hour, minute=at.minute, second=at.second,
                                                        microsecond=0)
            self.occurred_time = None
        return self

    def stored(self) -> dict[str, Any]:
        """As the reconciliation list keeps it while it waits (JSON), read back with ``model_validate``."""
        return self.model_dump(mode="json", exclude_none=True)


# The fields a mapping file may name for an activity import, in the order the documentation lists them.
FIELDS = ("source_system", "external_id", "type", "direction", "occurred_at", "occurred_time", "duration_seconds",
          "duration", "answered", "replied", "subject", "recording_ref", "attachment_count", "message_count", "body",
          "note", "declared_type", "rep", "opportunity", "lead", "email", "phone")


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
    recording_ref: str | None
    message_count: int | None
    body: str | None
    declared_type: ActivityType | None


class UnmatchedRead(BaseModel):
    """An activity waiting in the reconciliation list: why (``no_rep``: its rep is nobody known; ``no_link``:
    it names no known lead or deal), and the activity as it came."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    source_system: SourceSystem
    external_id: str
    occurred_at: datetime
    reason: Reason
    fields: dict[str, Any]
    received_at: datetime
    resolved_at: datetime | None
    activity_id: int | None


class LinkRequest(Strict):
    """Link a waiting activity by hand: its rep, and the lead or the deal (or both) it concerns."""

    rep_id: DbId
    lead_id: DbId | None = None
    opportunity_id: DbId | None = None

    @model_validator(mode="after")
    def _links_something(self) -> LinkRequest:
        if self.lead_id is None and self.opportunity_id is None:
            raise ValueError(N_("Name the lead or the deal the activity concerns."))
        return self


class ReconcileRead(BaseModel):
    tried: int = Field(description="Waiting activities tried again")
    linked: int = Field(description="Of them, matched now and turned into activities")
    waiting: int = Field(description="Still waiting")
