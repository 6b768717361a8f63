"""What the change registry's API reads and takes, and the impact checklist's questions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from evenhand.i18n import N_
from evenhand.kit.schema import Moment, Strict
from evenhand.models import ChangeStatus

Kind = Literal["release", "config", "campaign", "integration", "other"]
KINDS: tuple[Kind, ...] = ("release", "config", "campaign", "integration", "other")
# The impact checklist: every question answered before a change may be released (R4.6).
QUESTIONS: dict[str, str] = {
    "user_change": N_("What changes for users?"),
    "business_metrics": N_("Which business metrics may move?"),
    "affected_scope": N_("Who is affected (platforms, versions, teams)?"),
    "watch_plan": N_("How will it be watched?"),
    "rollback_plan": N_("How is it rolled back?"),
    "follow_up_owner": N_("Who owns the follow-up?"),
}

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
System = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Metric = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
KpiId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,60}$")]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Line = Annotated[float, Field(allow_inf_nan=False)]


class Monitor(Strict):
    """A KPI of the active definitions watched for this change, with an alert line of its own if given (else the
    KPI's)."""

    kpi: KpiId
    above: Line | None = None
    below: Line | None = None


class ChangeCreate(Strict):
    title: Title
    kind: Kind
    system: System = Field(description="What changes: crm, mobile_app, website, notify, …")
    description: Description = ""
    effective_at: Moment | None = Field(None, description="When it takes effect; default now")
    affected_metrics: list[Metric] = Field(default_factory=list, max_length=30, description=(
        "The business metrics it may move: a KPI id of the active definitions needs a monitor before the release; "
        "any other name is kept as said"))
    monitors: list[Monitor] = Field(default_factory=list, max_length=30)
    checklist: dict[str, Answer] = Field(default_factory=dict, max_length=len(QUESTIONS), description=(
        "Answers to the impact checklist by question: " + ", ".join(QUESTIONS)))


class ChangeUpdate(Strict):
    """A planned change's fields; those given replace what it had, except ``checklist``, whose answers are merged
    (an empty answer clears one)."""

    title: Title | None = None
    kind: Kind | None = None
    system: System | None = None
    description: Description | None = None
    effective_at: Moment | None = None
    affected_metrics: list[Metric] | None = Field(None, max_length=30)
    monitors: list[Monitor] | None = Field(None, max_length=30)
    checklist: dict[str, Answer] | None = Field(None, max_length=len(QUESTIONS))


class Rollback(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class MissingRead(BaseModel):
    field: str
    message: str


class ChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    kind: str
    system: str
    description: str
    effective_at: datetime
    author_id: int | None
    affected_metrics: list[str]
    status: ChangeStatus
    source: str = Field(description="manual (entered by ops) or config (a saved version of evenhand's own settings)")
    document: str | None
    document_version: int | None
    checklist: dict[str, str]
    monitors: list[dict[str, Any]]
    released_at: datetime | None
    released_by_id: int | None
    created_at: datetime
    missing: list[MissingRead] = Field(default_factory=list, description="What a planned change lacks to be released")


class HistoryRead(BaseModel):
    action: str = Field(description="added, edited, released, rolled_back")
    at: datetime
    actor_id: int | None
    actor: str | None
    reason: str | None


class ChangeDetail(ChangeRead):
    history: list[HistoryRead]
