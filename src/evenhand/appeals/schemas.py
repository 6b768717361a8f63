"""API shapes for appeals (异议申诉): filing one, ruling on it, reading them, and their metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from evenhand.appeals.metrics import Figures
from evenhand.i18n import N_
from evenhand.kit.schema import DbId, Strict
from evenhand.models import AppealStatus

ReasonCode = Literal["wrong_industry", "duplicate", "out_of_territory", "wrong_score", "other"]
REASON_CODES: dict[str, str] = {
    "wrong_industry": N_("Wrong industry"),
    "duplicate": N_("Duplicate lead"),
    "out_of_territory": N_("Outside my territory"),
    "wrong_score": N_("Wrong score"),
    "other": N_("Other"),
}
Outcome = Literal["uphold", "rescore", "reassign"]
OUTCOME_STATUS: dict[str, AppealStatus] = {"uphold": AppealStatus.UPHELD, "rescore": AppealStatus.RESCORED,
                                           "reassign": AppealStatus.REASSIGNED}
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class Corrections(Strict):
    """The facts the rep says are wrong, as they should be; each one named is applied on a re-score."""

    industry: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] | None = None
    region: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)] | None = None
    company_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] | None = None
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None = None
    duplicate_of_id: DbId | None = None


class AppealCreate(Strict):
    decision_id: DbId
    reason_code: ReasonCode
    reason: Note = Field(default="", validate_default=True)
    corrections: Corrections = Field(default_factory=Corrections)

    @field_validator("reason")
    @classmethod
    def _reason_for_other(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("reason_code") == "other" and not value:
            raise ValueError(N_("Say why: a reason is required when the reason code is other."))
        return value


class Ruling(Strict):
    """``uphold`` keeps the assignment; ``rescore`` applies the corrected facts, scores and routes the lead
    again; ``reassign`` routes it again without the appellant, or gives it to ``rep_id``."""

    outcome: Outcome
    note: Note = ""
    rep_id: DbId | None = Field(default=None, validate_default=True)

    @field_validator("rep_id")
    @classmethod
    def _rep_only_on_reassign(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("outcome") != "reassign":
            raise ValueError(N_("A rep is named only when the outcome is reassign."))
        return value


class AppealRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    decision_id: int
    lead_id: int
    appellant_id: int
    team_id: int | None
    reason_code: str
    reason: str
    corrections: dict[str, Any]
    status: AppealStatus
    created_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None
    ruling: str
    outcome_decision_id: int | None


class AppealDetail(AppealRead):
    """The appeal with the evidence of the decision appealed (as the caller may see it: ``None`` when they
    may not) and the names a reader needs."""

    company: str
    appellant_name: str
    window_closes_at: datetime
    decision: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class TeamFigures(Figures):
    team_id: int | None
    team: str | None


class MetricsRead(BaseModel):
    overall: Figures
    teams: list[TeamFigures]
