"""Peer review queries. What links a reviewer to a review is never read here, because the schema does not hold it:
assignments are read for their own reviewer or counted, reviews are read by reviewee and ordered by their random
id."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import PeerReview, PeerReviewAssignment, PeerReviewCycle, Role, Team, User
from evenhand.performance.peer import Pair, Peer


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    team: str | None


@dataclass(frozen=True)
class Rating:
    id: str  # random: ordering by it says nothing of the order of writing
    professionalism: int
    collaboration: int
    comment: str


def peers(session: Session) -> list[Peer]:
    """The active reps with their teams, ascending by id."""
    rows = session.execute(select(User.id, User.team_id).where(User.role == Role.REP, User.active.is_(True))
                           .order_by(User.id))
    return [Peer(uid, team) for uid, team in rows]


def cycle(session: Session, period: str, *, for_update: bool = False) -> PeerReviewCycle | None:
    stmt = select(PeerReviewCycle).where(PeerReviewCycle.period == period)
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def cycles(session: Session) -> list[PeerReviewCycle]:
    return list(session.scalars(select(PeerReviewCycle).order_by(PeerReviewCycle.period.desc())))


def assign(session: Session, cycle_id: int, pairs: Sequence[Pair]) -> None:
    session.add_all(PeerReviewAssignment(cycle_id=cycle_id, reviewer_id=r, reviewee_id=s, done=False)
                    for r, s in pairs)
    session.flush()


def counts(session: Session, cycle_ids: Collection[int]) -> dict[int, tuple[int, int, int]]:
    """Per cycle: reps reviewed, assignments, assignments done."""
    stmt = (select(PeerReviewAssignment.cycle_id, func.count(func.distinct(PeerReviewAssignment.reviewee_id)),
                   func.count(), func.count().filter(PeerReviewAssignment.done.is_(True)))
            .where(PeerReviewAssignment.cycle_id.in_(cycle_ids)).group_by(PeerReviewAssignment.cycle_id))
    return {cid: (reps, total, done) for cid, reps, total, done in session.execute(stmt)}


def own_assignments(session: Session, cycle_id: int, reviewer_id: int) -> list[tuple[PeerReviewAssignment, Person]]:
    """The reviewer's own assignments in the cycle, by reviewee name."""
    stmt = (select(PeerReviewAssignment, User.display_name, Team.name)
            .join(User, User.id == PeerReviewAssignment.reviewee_id).outerjoin(Team, Team.id == User.team_id)
            .where(PeerReviewAssignment.cycle_id == cycle_id, PeerReviewAssignment.reviewer_id == reviewer_id)
            .order_by(User.display_name, User.id))
    return [(a, Person(a.reviewee_id, name, team)) for a, name, team in session.execute(stmt)]


def assignment(session: Session, assignment_id: int, reviewer_id: int) -> PeerReviewAssignment | None:
    """The assignment if it is the reviewer's: anyone else's reads as missing."""
    return session.scalar(select(PeerReviewAssignment).where(PeerReviewAssignment.id == assignment_id,
                                                             PeerReviewAssignment.reviewer_id == reviewer_id))


def mark_done(session: Session, assignment_id: int) -> bool:
    """Flip ``done`` once: False when it was done already (a second submission, even a concurrent one)."""
    changed = session.execute(update(PeerReviewAssignment)
                              .where(PeerReviewAssignment.id == assignment_id, PeerReviewAssignment.done.is_(False))
                              .values(done=True).execution_options(synchronize_session=False))
    return bool(getattr(changed, "rowcount", 0) == 1)


def add_review(session: Session, cycle_id: int, reviewee_id: int, professionalism: int, collaboration: int,
               comment: str, *, review_id: str | None = None) -> None:
    """Insert the review with a random id (``review_id`` only from the demo's seed). A Core insert, not a new ORM
    object: on SQLite ``db._number_new_rows`` numbers new rows of a kind flushed together by their order, which
    is exactly what a review's id must never follow."""
    session.execute(insert(PeerReview).values(id=review_id or uuid.uuid4().hex, cycle_id=cycle_id,
                                              reviewee_id=reviewee_id, professionalism=professionalism,
                                              collaboration=collaboration, comment=comment))


def reviewees(session: Session, principal: Principal, cycle_id: int, user_id: int | None = None) -> list[Person]:
    """The cycle's reviewees whose reviews the principal reads (``auth.visibility``), by name."""
    stmt = (select(User.id, User.display_name, Team.name).outerjoin(Team, Team.id == User.team_id)
            .where(User.id.in_(select(PeerReviewAssignment.reviewee_id)
                               .where(PeerReviewAssignment.cycle_id == cycle_id)),
                   owned_by_visible(principal, User.id))
            .order_by(User.display_name, User.id))
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    return [Person(uid, name, team) for uid, name, team in session.execute(stmt)]


def ratings(session: Session, cycle_id: int, reviewee_ids: Collection[int]) -> dict[int, list[Rating]]:
    """Each reviewee's reviews in the cycle, ordered by their random id."""
    stmt = (select(PeerReview.reviewee_id, PeerReview.id, PeerReview.professionalism, PeerReview.collaboration,
                   PeerReview.comment)
            .where(PeerReview.cycle_id == cycle_id, PeerReview.reviewee_id.in_(reviewee_ids))
            .order_by(PeerReview.reviewee_id, PeerReview.id))
    found: dict[int, list[Rating]] = {uid: [] for uid in reviewee_ids}
    for reviewee, rid, prof, collab, comment in session.execute(stmt):
        found[reviewee].append(Rating(rid, prof, collab, comment))
    return found
