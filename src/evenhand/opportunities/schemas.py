"""API shapes for accounts and opportunities. The create schemas are also the rows of an import: a file's row and
a CRM's POST go through the same checks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from evenhand.i18n import N_
from evenhand.kit.schema import Moment, Strict
from evenhand.models import OPEN_STAGES, Stage
from evenhand.opportunities import stages


def _a_name(value: str) -> str:
    if value.isdigit():
        raise ValueError(N_("A source is the CRM's name (salesforce, crm), not a number."))
    return value


Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), AfterValidator(_a_name)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Industry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
CENTS = Decimal("0.01")
# Kept to the cent, as stored: a deal answered from memory reads as one read back.
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2),
                   AfterValidator(lambda d: d.quantize(CENTS))]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2), AfterValidator(lambda d: d.quantize(CENTS))]


# --- accounts -----------------------------------------------------------------------------------------------------


class AccountChange(Strict):
    """What may change on an account; ``owner`` names a user by external id, e-mail or username, ``region`` a region
    by code or name (stored as its code)."""

    name: Name | None = None
    industry: Industry | None = None
    region: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    owner: Key | None = None
    created_at: Moment | None = None


class AccountCreate(AccountChange):
    """An account as the CRM of record knows it: ``(source, external_id)`` is its identity in evenhand."""

    source: Source
    external_id: ExternalId
    name: Name


class AccountUpdate(AccountChange):
    """Only the fields sent change (``PATCH``); a name cannot be emptied."""


ACCOUNT_FIELDS = ("source", "external_id", "name", "industry", "region", "owner", "created_at")


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str | None
    external_id: str | None
    name: str
    industry: str | None
    region: str | None
    owner_id: int | None
    created_at: datetime


# --- opportunities ------------------------------------------------------------------------------------------------


class OpportunityChange(Strict):
    """What may change on a deal. ``account`` is the account's external id in the deal's source, or its name;
    ``account_name`` names an account that is created when none has that name. ``owner`` is a user's external
    id, e-mail or username; ``product`` a product line's code or name. An open deal has no close date (a CRM's
    expected close date on an open deal is not kept)."""

    name: Name | None = None
    account: Key | None = None
    account_name: Name | None = None
    owner: Key | None = None
    product: Key | None = None
    amount: Amount | None = None
    discount_pct: Percent | None = None
    stage: Stage | None = None
    created_at: Moment | None = None
    engaged_at: Moment | None = None
    closed_at: Moment | None = None


class OpportunityCreate(OpportunityChange):
    """A deal as the CRM of record knows it. Its stage is ``stage``, or, when the export has only a won flag,
    won (``won`` true) or lost (``won`` false on a closed deal: ``closed`` true, or a close date and no
    ``closed`` column); otherwise it is open, in needs analysis once engaged."""

    source: Source
    external_id: ExternalId
    owner: Key
    won: bool | None = None
    closed: bool | None = None

    @field_validator("won")
    @classmethod
    def _won_agrees_with_stage(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        stage = info.data.get("stage")
        if value is not None and stage is not None and stages.contradicts(stage, won=value):
            raise ValueError(N_("The deal is marked won, but its stage is not won.") if value
                             else N_("The deal is marked not won, but its stage is won."))
        return value

    @field_validator("closed")
    @classmethod
    def _closed_agrees_with_stage(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        stage = info.data.get("stage")
        if stage is not None and value is not None and value is (stage in OPEN_STAGES):
            raise ValueError(N_("The deal is marked closed, but its stage is open.") if value
                             else N_("The deal is marked open, but its stage is won or lost."))
        return value

    @model_validator(mode="after")
    def _stage_from_won_flag(self) -> OpportunityCreate:
        if self.stage is None and self.won is not None:
            self.stage = stages.from_flags(won=self.won, closed=self.closed, closed_at=self.closed_at,
                                           engaged_at=self.engaged_at)
        return self


class OpportunityUpdate(OpportunityChange):
    """Only the fields sent change (``PATCH``). A move to won or lost without ``closed_at`` closes the deal now;
    a move back to an open stage reopens it."""


OPPORTUNITY_FIELDS = ("source", "external_id", "name", "account", "account_name", "owner", "product", "amount",
                      "discount_pct", "stage", "won", "closed", "created_at", "engaged_at", "closed_at")
OPPORTUNITY_MOMENTS = ("created_at", "engaged_at", "closed_at")


class StageRow(Strict):
    """One line of an exported stage history: the deal (its external id; ``source`` when the deal is not in the
    same import), the stage it moved to, when, and optionally the stage it left (else the line before's)."""

    opportunity: ExternalId
    source: Source | None = None
    from_stage: Stage | None = None
    to_stage: Stage
    changed_at: Moment


STAGE_FIELDS = ("opportunity", "source", "from_stage", "to_stage", "changed_at")


class OpportunityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str | None
    external_id: str | None
    name: str
    lead_id: int | None
    account_id: int | None
    owner_id: int
    product_line_id: int | None
    stage: Stage
    amount: Decimal
    discount_pct: Decimal
    won: bool | None
    created_at: datetime
    engaged_at: datetime | None
    stage_changed_at: datetime | None
    closed_at: datetime | None


class StageChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    from_stage: Stage | None
    to_stage: Stage
    changed_at: datetime
    changed_by_id: int | None
    derived: bool = Field(description="Rebuilt from the deal's dates (created, engaged, closed): the export had "
                                      "no stage history")
