"""A plausible month of peer reviews for the demo company: a cycle opened under the demo's seed and most of its
reviews written through the same service a rep uses (so the rows and the audit entries are the real ones).

Each rep has a standing with their peers, drawn once per dimension (seniors a little higher on professionalism);
each review is that standing plus a reviewer's noise, rounded into 1–5. About one review in seven is left unwritten,
and about half carry a comment that fits the rating. The reviews' random ids and the cycle's opening time come
from the seed and the month, so the same seed builds the same rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.errors import Invalid
from evenhand.models import Level, PeerReviewAssignment, PeerReviewCycle, User
from evenhand.performance import peer_service as service
from evenhand.performance import period as periods
from evenhand.performance.peer_schemas import CycleOpen, ReviewSubmit

WRITTEN_SHARE = 0.85
COMMENTS = {
    "high": ["方案写得扎实，客户问题答得很专业", "跨组协作很主动，资料共享及时", "交接客户时说明很清楚"],
    "mid": ["沟通顺畅，偶尔回复慢一些", "专业上没问题，协作可以更主动"],
    "low": ["约好的资料迟迟没给", "对客户需求的理解还不够深入"],
}


def demo_cycle(session: Session, period: str, *, seed: int) -> PeerReviewCycle | None:
    """Open the month's cycle and write its reviews; None when the company's teams make a draw impossible."""
    try:
        service.open_cycle(session, CycleOpen(period=period, seed=seed), actor=None, tell=False)
    except Invalid:  # a company whose teams make a draw impossible simply has no peer review
        return None
    cycle = session.scalars(select(PeerReviewCycle).where(PeerReviewCycle.period == period)).one()
    cycle.created_at = datetime.combine(periods.parse(period).ends_on, time(1, 0), tzinfo=UTC)  # as if opened then
    rng = random.Random(seed)
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        select(PeerReviewAssignment.reviewee_id).where(PeerReviewAssignment.cycle_id == cycle.id))))}
    standing = {uid: (_lift(u) + rng.gauss(3.6, 0.5), rng.gauss(3.7, 0.6)) for uid, u in sorted(people.items())}
    for assigned in session.scalars(select(PeerReviewAssignment).where(PeerReviewAssignment.cycle_id == cycle.id)
                                    .order_by(PeerReviewAssignment.id)).all():
        if rng.random() < WRITTEN_SHARE:
            _write(session, rng, assigned, standing[assigned.reviewee_id], people[assigned.reviewer_id])
    return cycle


def _lift(user: User) -> float:
    return 0.4 if user.level is Level.SENIOR else 0.0


def _write(session: Session, rng: random.Random, assigned: PeerReviewAssignment, standing: tuple[float, float],
           reviewer: User) -> None:
    prof, collab = (min(5, max(1, round(s + rng.gauss(0, 0.7)))) for s in standing)
    mood = "high" if prof + collab >= 9 else "low" if prof + collab <= 5 else "mid"
    comment = rng.choice(COMMENTS[mood]) if rng.random() < 0.5 else ""
    actor = Principal(reviewer.id, reviewer.username, reviewer.display_name, reviewer.role, reviewer.team_id)
    service.submit(session, ReviewSubmit(assignment_id=assigned.id, professionalism=prof, collaboration=collab,
                                         comment=comment), actor=actor, review_id=f"{rng.getrandbits(128):032x}")
