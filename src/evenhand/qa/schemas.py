"""API shapes for call QA: a draw, a sample, a review and its feedback, coaching items and trends."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from evenhand.i18n import N_
from evenhand.kit.schema import Strict
from evenhand.models import ReviewStatus

PERIOD = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")  # the years the clock's arithmetic is sane in
BAD_PERIOD = N_("A period is a month written YYYY-MM, from 2000 to 2099, not {value}.")
Period = Annotated[str, StringConstraints(pattern=PERIOD.pattern)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
CoachingText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class DrawRequest(Strict):
    """A period's draw: with ``seed``, the sample that seed gives (the same calls as before, if it was drawn
    already); without, a fresh seed. ``share`` defaults to the configured one."""

    period: Period
    seed: Seed | None = None
    share: Annotated[float, Field(gt=0, le=1)] | None = None


class SampleRead(BaseModel):
    id: int
    period: str
    seed: int
    share: float
    calls: int
    drawn: int
    drawn_at: datetime
    drawn_by: int | None
    current: bool
    activity_ids: list[int]


class Verification(BaseModel):
    period: str
    seed: int
    share: float
    calls_then: int = Field(description="The population when the sample was drawn")
    calls_now: int = Field(description="The population now; a call captured late changes it")
    stored: list[int]
    recomputed: list[int]
    matches: bool


class ReviewSave(Strict):
    """Scores 1–5 for every criterion of the active rubric, a comment, and coaching items for the rep."""

    scores: dict[Annotated[str, StringConstraints(max_length=40)], Annotated[int, Field(ge=1, le=5)]]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    coaching: Annotated[list[CoachingText], Field(max_length=10, default_factory=list)]

    @field_validator("scores")
    @classmethod
    def _some(cls, value: dict[str, int]) -> dict[str, int]:
        if len(value) > 20:
            raise ValueError("at most 20 criteria")
        return value


class CoachingItem(BaseModel):
    review_id: int
    index: int
    text: str
    done: bool
    done_at: str | None
    period: str | None = None


class ReviewRead(BaseModel):
    id: int
    sample_id: int
    period: str
    current: bool
    activity_id: int
    rep_id: int
    rep: str
    team_id: int | None
    status: ReviewStatus
    reviewer_id: int | None
    reviewer: str | None
    rubric_version: int | None
    scores: dict[str, Any]
    average: float | None
    comment: str
    coaching: list[CoachingItem]
    reviewed_at: datetime | None
    acknowledged_at: datetime | None
    call_at: datetime
    duration_seconds: int | None
    lead_id: int | None
    opportunity_id: int | None
    recording: str = Field(description="Where the recording streams from")
    may_review: bool


class CriterionTrend(BaseModel):
    period: str
    reviews: int
    averages: dict[str, float | None]


class TrendLine(BaseModel):
    id: int | None
    name: str
    periods: list[CriterionTrend]


class Trends(BaseModel):
    criteria: list[str]
    labels: dict[str, str]
    periods: list[str]
    reps: list[TrendLine]
    teams: list[TrendLine]
