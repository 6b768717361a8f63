"""API shapes for peer review. None of them carries who wrote a review: an aggregate holds averages and comments,
an assignment is only ever shown to its own reviewer, and a cycle's completion is a count."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from evenhand.kit.schema import Strict

MONTH = r"^20\d\d-(0[1-9]|1[0-2])$"  # the years 2000 to 2099, as the other monthly cycles (QA samples)
Month = Annotated[str, StringConstraints(pattern=MONTH)]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]  # the seed column is a 32-bit integer
Rating = Annotated[int, Field(ge=1, le=5)]


class CycleOpen(Strict):
    """Open a month's cycle: each rep reviewed by ``per_reviewer`` peers from other teams (and writing as many);
    aggregates show from ``threshold`` reviews, at least 3. Without ``seed``, a fresh one (recorded)."""

    period: Month
    seed: Seed | None = None
    per_reviewer: Annotated[int, Field(ge=1, le=20)] = 3
    threshold: Annotated[int, Field(ge=0, le=20)] = 3


class ThresholdSet(Strict):
    """A higher threshold (never below 3, never lower than the cycle's)."""

    threshold: Annotated[int, Field(ge=0, le=20)]


class CycleRead(BaseModel):
    period: str
    status: str
    seed: int | None = Field(description="Shown to admins, sales ops and auditors, who may draw the cycle again")
    per_reviewer: int
    threshold: int
    reps: int = Field(description="Reps reviewed in the cycle")
    assignments: int
    done: int = Field(description="Reviews written so far, for the whole cycle (never per reviewer)")


class AssignmentRead(BaseModel):
    """A review the caller is to write (only ever shown to that reviewer)."""

    id: int
    period: str
    reviewee_id: int
    reviewee: str
    team: str | None
    done: bool
    open: bool = Field(description="Whether the cycle still takes reviews")


class ReviewSubmit(Strict):
    """Ratings 1–5 on professionalism and collaboration, and an optional comment the reviewee reads unsigned."""

    assignment_id: Annotated[int, Field(ge=1, le=2**63 - 1)]
    professionalism: Rating
    collaboration: Rating
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class Submitted(BaseModel):
    period: str
    reviewee_id: int
    done: bool


class Aggregate(BaseModel):
    """A rep's reviews in a cycle, once at least ``threshold`` exist; before that, ``enough`` is false and nothing
    else is told (not even how many there are)."""

    user_id: int
    name: str
    team: str | None
    period: str
    threshold: int
    enough: bool
    reviews: int | None = None
    professionalism: float | None = None
    collaboration: float | None = None
    trimmed: bool = Field(False, description="The highest and lowest rating of each dimension were left out (5+)")
    comments: list[str] = Field(default_factory=list, description="Unsigned, undated, in an order unrelated to "
                                "the order of writing")
