"""Peer review endpoints (/api/v1/peer): cycles (open, list, read, raise the threshold, close), the caller's own
reviews to write, submitting one, and the aggregates the caller reads. No answer names who wrote a review."""

from __future__ import annotations

from fastapi import APIRouter

from evenhand.deps import DbSession, OrgManager, Reader, Writer
from evenhand.kit.schema import DbId
from evenhand.performance import peer_service as service
from evenhand.performance.peer_schemas import (
    Aggregate,
    AssignmentRead,
    CycleOpen,
    CycleRead,
    Month,
    ReviewSubmit,
    Submitted,
    ThresholdSet,
)

router = APIRouter(prefix="/peer", tags=["peer review"])


@router.post("/cycles", response_model=CycleRead, status_code=201)
def open_cycle(data: CycleOpen, session: DbSession, actor: OrgManager) -> CycleRead:
    """Open a month's cycle (admin, ops): every active rep reviewed by ``per_reviewer`` peers of other teams, drawn
    under the recorded seed with an even load. Refused, naming why, when the teams make it impossible. Audited."""
    return service.open_cycle(session, data, actor=actor)


@router.get("/cycles", response_model=list[CycleRead])
def list_cycles(session: DbSession, principal: Reader) -> list[CycleRead]:
    """Every cycle, newest first, with completion counts for the whole cycle."""
    return service.cycles(session, principal)


@router.get("/cycles/{period}", response_model=CycleRead)
def get_cycle(period: Month, session: DbSession, principal: Reader) -> CycleRead:
    return service.cycle(session, principal, period)


@router.put("/cycles/{period}/threshold", response_model=CycleRead)
def raise_threshold(period: Month, data: ThresholdSet, session: DbSession, actor: OrgManager) -> CycleRead:
    """Raise the number of reviews an aggregate needs before it shows (never below 3, never lowered). Audited."""
    return service.raise_threshold(session, period, data.threshold, actor=actor)


@router.post("/cycles/{period}/close", response_model=CycleRead)
def close_cycle(period: Month, session: DbSession, actor: OrgManager) -> CycleRead:
    """Take no more reviews (admin, ops). Audited."""
    return service.close_cycle(session, period, actor=actor)


@router.get("/assignments", response_model=list[AssignmentRead])
def my_assignments(period: Month, session: DbSession, principal: Reader) -> list[AssignmentRead]:
    """The caller's own reviews to write in the month's cycle; nobody reads anyone else's."""
    return service.assignments(session, principal, period)


@router.post("/reviews", response_model=Submitted, status_code=201)
def submit_review(data: ReviewSubmit, session: DbSession, actor: Writer) -> Submitted:
    """Submit one of the caller's reviews, once. The review keeps nothing of its writer or its time; the audit
    entry names the reviewee only."""
    return service.submit(session, data, actor=actor)


@router.get("/aggregates", response_model=list[Aggregate])
def list_aggregates(period: Month, session: DbSession, principal: Reader) -> list[Aggregate]:
    """The aggregates the caller reads (their own, their teams' for a supervisor, everyone's for staff); each shows
    figures and comments only from the cycle's threshold of reviews."""
    return service.aggregates(session, principal, period)


@router.get("/aggregates/{user_id}", response_model=Aggregate)
def get_aggregate(user_id: DbId, period: Month, session: DbSession, principal: Reader) -> Aggregate:
    return service.aggregate(session, principal, period, user_id)
