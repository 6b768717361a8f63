"""API shapes for the organisation."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from evenhand.kit.schema import DbId, Moment, Strict
from evenhand.models import Level, Presence, Role
from evenhand.org import usernames

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32,
                                        pattern=r"^[A-Za-z0-9_.-]+$")]
# Refused with the rule in words (``usernames.RULE``), never the pattern.
Username = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(usernames.check),
                     Field(json_schema_extra={"pattern": usernames.PATTERN})]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+() -]{3,40}$")]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WorkingHours = dict[str, list[tuple[str, str]]]


def check_working_hours(value: WorkingHours | None) -> WorkingHours | None:
    """Spans as ``routing.availability.in_working_hours`` reads them: ``09:00-18:00``; ``22:00-06:00`` runs
    past midnight into the next day; ``00:00-00:00`` is the whole day. A span that starts where it ends
    otherwise covers nothing and is refused."""
    for day, spans in (value or {}).items():
        if day not in DAYS:
            raise ValueError(f"unknown day {day!r}; use one of {', '.join(DAYS)}")
        for start, end in spans:
            if not span_ok(start, end):
                raise ValueError(f"{day}: {start}-{end} is not a span like 09:00-18:00")
    return value


def check_zone(value: str | None) -> str | None:
    from zoneinfo import ZoneInfo

    if value is not None:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def span_ok(start: str, end: str) -> bool:
    return bool(_HHMM.match(start) and _HHMM.match(end)) and (start != end or start == "00:00")


class RefCreate(Strict):
    code: Code
    name: Name


class RefUpdate(Strict):
    code: Code | None = None
    name: Name | None = None


class RefRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str


class TeamCreate(Strict):
    name: Name
    department_id: DbId
    region_id: DbId | None = None
    supervisor_id: DbId | None = None


class TeamUpdate(Strict):
    name: Name | None = None
    department_id: DbId | None = None
    region_id: DbId | None = None
    supervisor_id: DbId | None = None


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    department_id: int
    region_id: int | None
    supervisor_id: int | None


class _UserFields(Strict):
    external_id: ExternalId | None = Field(None, description="The id the company's HR system gives this person.")
    display_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    role: Role | None = None
    level: Level | None = None
    team_id: DbId | None = None
    region_id: DbId | None = None
    monthly_quota: Annotated[Decimal, Field(ge=0, le=10**11, decimal_places=2)] | None = None
    max_open_leads: Annotated[int, Field(ge=0, le=100_000)] | None = None
    daily_lead_cap: Annotated[int, Field(ge=0, le=10_000)] | None = None
    skills: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    working_hours: WorkingHours | None = None
    hired_on: date | None = None
    left_on: date | None = None
    active: bool | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)] | None = None

    _hours = field_validator("working_hours")(check_working_hours)
    _zone = field_validator("timezone")(check_zone)


class UserCreate(_UserFields):
    username: Username
    display_name: Name
    role: Role = Role.REP


class UserUpdate(_UserFields):
    pass


_HIDDEN = (" Null when the reader may not see it: reps and supervisors read it only for themselves, their own "
           "team, the teams they supervise and those teams' supervisors.")


class UserRead(BaseModel):
    """A user as the reader may see them: contact details and quota of people outside the reader's own
    circle are null (``auth.visibility.details_visible``)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    external_id: str | None = Field(None, description="The id the company's HR system gives this person.")
    display_name: str
    email: str | None = Field(description="E-mail address." + _HIDDEN)
    phone: str | None = Field(description="Phone number." + _HIDDEN)
    role: Role
    level: Level
    team_id: int | None
    region_id: int | None
    monthly_quota: Decimal | None = Field(description="Monthly sales quota." + _HIDDEN)
    max_open_leads: int
    daily_lead_cap: int
    skills: list[str]
    timezone: str
    working_hours: dict[str, list[list[str]]]
    presence: Presence
    presence_since: datetime
    active: bool
    hired_on: date | None
    left_on: date | None


class PresenceUpdate(Strict):
    presence: Presence


class ProductLinesSet(Strict):
    codes: Annotated[list[Code], Field(max_length=100)]


class LeaveCreate(Strict):
    starts_on: date
    ends_on: date
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class LeaveRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    starts_on: date
    ends_on: date
    reason: str | None = Field(description="Why (a sick note, say): shown only to the person, their team's "
                               "supervisor, ops and admin; null for everyone else, who see only the dates.")


class GrantCreate(Strict):
    """A right a rep has earned: ``key_account`` opens the pools marked ``key_account: true``."""

    grant: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
    expires_at: Moment | None = None
    reason: Annotated[str, StringConstraints(max_length=300)] = ""


class GrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: int
    grant: str
    granted_by_id: int | None
    expires_at: datetime | None
    reason: str
    created_at: datetime
