"""The demo's month of peer reviews, on the small company of the tests: written through the rep's own service, as
many reviews as assignments done, each audited without a writer, refused for a month that has its cycle."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from evenhand.db import session_scope
from evenhand.errors import Conflict
from evenhand.models import AuditEntry, PeerReview, PeerReviewAssignment
from evenhand.performance.peer_demo import demo_cycle
from tests.builders import Org


def test_a_plausible_month_of_reviews(engine: Engine, org: Org) -> None:
    with session_scope(engine) as session:
        cycle = demo_cycle(session, "2026-03", seed=7)
        assert cycle is not None and cycle.seed == 7
        done = session.scalar(select(func.count()).select_from(PeerReviewAssignment)
                              .where(PeerReviewAssignment.done.is_(True))) or 0
        ratings = session.execute(select(PeerReview.professionalism, PeerReview.collaboration)
                                  .order_by(PeerReview.reviewee_id, PeerReview.professionalism,
                                            PeerReview.collaboration)).all()
        audited = session.scalars(select(AuditEntry.actor_id).where(AuditEntry.action == "peer.review_submitted"))
        assert 10 <= len(ratings) == done < 18
        assert set(audited.all()) == {None}
        assert all(1 <= p <= 5 and 1 <= c <= 5 for p, c in ratings)
        with pytest.raises(Conflict):  # a month is opened once
            demo_cycle(session, "2026-03", seed=7)
