"""The rows of a company's after-sale exports: contracts, payments (回款), survey answers (CSAT, NPS) and complaints.

Each names its customer by the account's external id (``account``), in the CRM ``account_source`` when ids repeat
across CRMs; people by external id, e-mail, username or unique display name. Amounts are decimals kept to the cent;
times without a zone are in the mapping's zone, else the company's; a date may be written as a date or a time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from evenhand.i18n import N_
from evenhand.kit.schema import Moment, Strict
from evenhand.models import ContractKind, SurveyKind
from evenhand.opportunities.schemas import Amount, ExternalId, Key, Source


def _day(value: Any) -> Any:
    """A date column read as a time (so its ``format`` applies) is that time's own day."""
    return value.date() if isinstance(value, datetime) else value


def _in_years(value: date) -> date:
    if not 2000 <= value.year <= 2100:
        raise ValueError(N_("Must fall between the years 2000 and 2100"))
    return value


Day = Annotated[date, BeforeValidator(_day), AfterValidator(_in_years)]
Summary = Annotated[str, AfterValidator(lambda v: v.strip()[:500])]
SCORES = {SurveyKind.CSAT: (1, 5), SurveyKind.NPS: (0, 10)}


class Customer(Strict):
    account: ExternalId
    account_source: Source | None = None


class ContractRow(Customer):
    """A contract signed with an account: new business or a renewal. ``opportunity`` is the deal it was won by (its
    external id in the account's CRM); ``owner`` the rep, else the deal's owner, else the account's. It runs from
    ``starts_on`` (default: the day it was signed) to ``ends_on`` (default: a year later, less a day)."""

    opportunity: ExternalId | None = None
    owner: Key | None = None
    kind: ContractKind = ContractKind.NEW
    amount: Amount
    signed_at: Moment
    starts_on: Day | None = None
    ends_on: Day | None = None
    renewed: bool | None = None

    @model_validator(mode="after")
    def _term(self) -> ContractRow:
        self.starts_on = self.starts_on or self.signed_at.date()
        self.ends_on = self.ends_on or _a_year_on(self.starts_on)
        return self

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        signed = info.data.get("signed_at")
        start = info.data.get("starts_on") or (signed.date() if signed else None)
        if value is not None and start is not None and value < start:
            raise ValueError(N_("The contract ends before it starts."))
        return value


def _a_year_on(day: date) -> date:
    """The last day of a year's term: 2025-03-01 → 2026-02-28; 2024-02-29 → 2025-02-28."""
    try:
        return day.replace(year=day.year + 1) - timedelta(days=1)
    except ValueError:  # the 29th of February
        return date(day.year + 1, 2, 28)


class PaymentRow(Customer):
    """Cash received against a contract: the account's contract starting on ``contract_starts_on``, else the one it
    signed last before the money came."""

    contract_starts_on: Day | None = None
    amount: Annotated[Amount, Field(gt=0)]
    received_at: Moment


class SurveyRow(Customer):
    """A customer's answer to a satisfaction survey: CSAT scores 1–5, NPS 0–10; ``rep`` is the rep it rates."""

    rep: Key | None = None
    kind: SurveyKind
    score: int
    responded_at: Moment

    @field_validator("score")
    @classmethod
    def _in_scale(cls, value: int, info: ValidationInfo) -> int:
        kind = info.data.get("kind")
        low, high = SCORES.get(kind, (0, 10)) if kind else (0, 10)
        if not low <= value <= high:
            raise ValueError(N_("A CSAT score is from 1 to 5, an NPS score from 0 to 10."))
        return value


class ComplaintRow(Customer):
    """A complaint from the CRM or the service desk (``source``, ``external_id``: its identity), about the service
    an account received from ``rep``; the summary keeps its first 500 characters."""

    source: Source
    external_id: ExternalId
    rep: Key | None = None
    received_at: Moment
    summary: Summary = ""


CONTRACT_FIELDS = ("account", "account_source", "opportunity", "owner", "kind", "amount", "signed_at", "starts_on",
                   "ends_on", "renewed")
PAYMENT_FIELDS = ("account", "account_source", "contract_starts_on", "amount", "received_at")
SURVEY_FIELDS = ("account", "account_source", "rep", "kind", "score", "responded_at")
COMPLAINT_FIELDS = ("source", "external_id", "account", "account_source", "rep", "received_at", "summary")
