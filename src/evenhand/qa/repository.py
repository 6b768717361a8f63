"""Call QA queries: the population a sample is drawn from, samples, and the reviews a principal may read
(``readable``, through ``auth.visibility``: a rep's own, a supervisor's teams', everyone's for staff)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Activity, ActivityType, Direction, QaReview, QaSample, ReviewStatus, Team, User

FINISHED = (ReviewStatus.REVIEWED, ReviewStatus.ACKNOWLEDGED)


def population(session: Session, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Outbound calls with a recording that took place in [start, end): their ids and reps, ascending by id."""
    stmt = (select(Activity.id, Activity.rep_id)
            .where(Activity.type == ActivityType.CALL, Activity.direction == Direction.OUTBOUND,
                   Activity.recording_ref.is_not(None), Activity.recording_ref != "",
                   Activity.occurred_at >= start, Activity.occurred_at < end)
            .order_by(Activity.id))
    rows = session.execute(stmt).all()  # numpy reads SQLAlchemy's rows one attribute at a time: take the columns
    return (np.fromiter((r[0] for r in rows), np.int64, len(rows)),
            np.fromiter((r[1] for r in rows), np.int64, len(rows)))


def samples(session: Session, period: str | None = None) -> list[QaSample]:
    stmt = select(QaSample).order_by(QaSample.period.desc(), QaSample.id.desc())
    return list(session.scalars(stmt.where(QaSample.period == period) if period else stmt))


def current(session: Session, period: str) -> QaSample | None:
    return session.scalar(select(QaSample).where(QaSample.period == period, QaSample.current.is_(True)))


def by_seed(session: Session, period: str, seed: int) -> QaSample | None:
    return session.scalar(select(QaSample).where(QaSample.period == period, QaSample.seed == seed))


def retire(session: Session, period: str) -> None:
    """No sample of the period is current any more (a new or re-made draw takes its place)."""
    session.execute(update(QaSample).where(QaSample.period == period).values(current=False))


def sampled_ids(session: Session, sample_id: int) -> list[int]:
    return list(session.scalars(select(QaReview.activity_id).where(QaReview.sample_id == sample_id)
                                .order_by(QaReview.activity_id)))


def finished_in(session: Session, period: str) -> dict[int, QaReview]:
    """The latest finished review of each call reviewed in the period's samples (a few hundred a month: read whole
    rather than matched against a sample's thousands of ids)."""
    stmt = (select(QaReview).join(QaSample, QaSample.id == QaReview.sample_id)
            .where(QaSample.period == period, QaReview.status.in_(FINISHED))
            .order_by(QaReview.reviewed_at, QaReview.id))
    return {r.activity_id: r for r in session.scalars(stmt)}


def insert_reviews(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Pending review rows, one ``executemany``: a sample holds thousands of calls."""
    if rows:
        session.execute(insert(QaReview), list(rows))


def readable(principal: Principal) -> Select[QaReview, str, bool, Activity, str, int | None]:
    """Reviews with their sample's period, the call, and the rep's name and team."""
    return (select(QaReview, QaSample.period, QaSample.current, Activity, User.display_name, User.team_id)
            .join(QaSample, QaSample.id == QaReview.sample_id)
            .join(Activity, Activity.id == QaReview.activity_id)
            .join(User, User.id == QaReview.rep_id)
            .where(owned_by_visible(principal, QaReview.rep_id)))


def rows(session: Session, stmt: Any) -> Sequence[Any]:
    return session.execute(stmt).all()


def review(session: Session, review_id: int) -> QaReview | None:
    return session.get(QaReview, review_id)


def team_of(session: Session, user_id: int) -> int | None:
    return session.scalar(select(User.team_id).where(User.id == user_id))


def names(session: Session, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(list(ids)))).tuples().all())


def team_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Team.id, Team.name)).tuples().all())


def own_finished(session: Session, rep_id: int) -> list[QaReview]:
    """The rep's finished reviews, oldest first: where their coaching items are."""
    return list(session.scalars(select(QaReview).where(QaReview.rep_id == rep_id, QaReview.status.in_(FINISHED))
                                .order_by(QaReview.reviewed_at, QaReview.id)))
