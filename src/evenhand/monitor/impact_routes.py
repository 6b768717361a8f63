"""``GET /api/v1/changes/{id}/impact``: the before/after board of one change, for admin, sales ops, auditors and
supervisors (the page ``/monitor/changes/{id}/impact`` and ``evenhand changes impact`` read the same)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from evenhand.deps import AppSettings, DbSession, Reader
from evenhand.i18n import current_locale
from evenhand.kit.schema import DbId
from evenhand.monitor import impact

router = APIRouter(tags=["changes"])
KpiId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,60}$")]


class WindowRead(BaseModel):
    first: date
    last: date


class MetricRead(BaseModel):
    metric: str = Field(description="The declared metric, or a KPI id added to the board")
    declared: bool = Field(description="Declared by the change (false: added with kpi=)")
    status: str = Field(description="compared, pending (ready_on says when), no_data, or not_monitored (no KPI)")
    name: str | None = Field(description="The KPI's name in the request's language")
    kind: str | None = Field(description="rate, mean, quantile or count")
    unit: str | None
    good: str | None = Field(description="The KPI's good direction: up or down")
    method: str | None = Field(description="newcombe, welch, bootstrap (over days) or welch_daily (a count per day)")
    before: float | None
    after: float | None
    difference: float | None = Field(description="after − before")
    relative: float | None = Field(description="The difference as a share of before")
    low: float | None = Field(description="The 95% confidence interval of the difference")
    high: float | None
    excludes_zero: bool | None
    verdict: str | None = Field(description="better, worse or unclear (by the KPI's good direction)")
    n_before: float = Field(description="Rows (a count: events) in the before window")
    n_after: float
    ready_on: date | None = Field(description="When a pending comparison will be ready")


class ImpactRead(BaseModel):
    change_id: int
    title: str
    kind: str
    system: str
    status: str
    effective_at: datetime
    change_day: date = Field(description="The change's local day, in neither window")
    days: int
    before: WindowRead
    after: WindowRead
    known: date = Field(description="The last whole day the figures reach")
    metrics: list[MetricRead]


@router.get("/changes/{change_id}/impact", response_model=ImpactRead)
def change_impact(change_id: DbId, session: DbSession, principal: Reader, settings: AppSettings,
                  days: Annotated[int, Query(ge=impact.MIN_DAYS, le=impact.MAX_DAYS, description=(
                      "Each window's length; whole weeks keep the windows side by side"))] = impact.DAYS,
                  kpi: Annotated[list[KpiId] | None, Query(max_length=impact.MAX_ADDED, description=(
                      "A KPI to show besides the declared metrics (repeat for more)"))] = None) -> ImpactRead:
    """The change's declared metrics (and any KPI added) before and after it, over matched windows, with each
    difference's 95% confidence interval and the verdict by the KPI's good direction."""
    found = impact.board(session, principal, change_id, zone=settings.zone, days=days, added=kpi or [])
    return ImpactRead.model_validate(impact.as_dict(found, current_locale()))
