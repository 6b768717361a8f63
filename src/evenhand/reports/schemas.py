"""API shapes for the fairness report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evenhand.kit.schema import DbId, Strict
from evenhand.reports.monthly import Month, MonthLeads, RepLine

MonthText = Annotated[str, Field(min_length=1, max_length=20, examples=["2026-11"])]


class ChiSquareRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    statistic: float
    dof: int
    p_value: float
    bins: int
    merged: int = Field(description="reps pooled into one group because few leads were expected of them")


class AppealSummaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    filed: int
    by_status: dict[str, int]
    median_hours_to_decision: float | None


class AppealRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    appellant_id: int
    lead_id: int
    status: str
    reason_code: str
    filed_at: datetime
    decided_at: datetime | None


class TeamReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    department: str
    supervisor_id: int | None
    reps: list[RepLine]
    leads: int
    high_value: int
    won: int
    routed: int
    unrouted: int
    evidence: str
    chi_square: ChiSquareRead | None
    verdict: str = Field(description="too_few | differs (p < 0.05) | consistent")
    gini: float
    appeals: AppealSummaryRead
    appeal_rows: list[AppealRead]


class PolicyNoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str
    version: int | None = Field(description="None: the shipped default policy, not yet saved")
    threshold: int = Field(description="a high-value lead scores at least this")


class FairnessReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    month: str
    zone: str
    generated_at: datetime
    policy: PolicyNoteRead
    teams: list[TeamReportRead]
    arrivals: MonthLeads = Field(description="How the month's leads (company-wide) came to a rep")

    @field_validator("month", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        return value.label if isinstance(value, Month) else value


class PublishRequest(Strict):
    month: MonthText
    team_id: DbId


class PublishedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    team_id: int
    month: str
    recipients: int
    notified: int
    link: str
