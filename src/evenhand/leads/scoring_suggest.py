"""What ``evenhand scoring suggest`` learns from, read from the database; and how spread out stored scores are.

The outcome is the predictive model's (``predict.repository.known_outcome``): converted is 1; disqualified, or
open longer than the horizon, is 0. Each lead is taken as it arrived, with the events it came with (up to
``INTAKE_GRACE`` after its creation, as the predictive model reads them), so nothing that sales did with the
lead afterwards teaches the points. The computation itself is ``scoring.suggest`` (pure).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evenhand.kit.clock import as_utc
from evenhand.leads import scoring_bulk, scoring_service
from evenhand.leads.predict import repository as predict_repository
from evenhand.leads.scoring import ScoringModel
from evenhand.leads.scoring.suggest import History, Spread, spread
from evenhand.leads.scoring.vector import EventTable
from evenhand.models import Lead, ScoringModelVersion


@dataclass(frozen=True)
class Inputs:
    active_version: int
    active: ScoringModel
    history: History
    since: datetime


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def inputs(session: Session, *, now: datetime, months: int, horizon_days: int) -> Inputs:
    """The active rule model and the leads created in the last ``months`` months whose outcome is known."""
    row = scoring_service.active(session)
    since = months_before(as_utc(now), months)
    return Inputs(row.version, scoring_service.compiled_body(row.body).model,
                  history(session, now=now, since=since, horizon_days=horizon_days), since)


def history(session: Session, *, now: datetime, since: datetime, horizon_days: int) -> History:
    outcome = predict_repository.outcomes(session, now=now, horizon_days=horizon_days, since=since)
    data = scoring_bulk.read(session.connection(), created_since=since)
    events = data.events
    intake = events.occurred_at <= data.created[events.lead] + int(predict_repository.INTAKE_GRACE.total_seconds())
    kept = EventTable(lead=events.lead[intake], kind=np.asarray(events.kind)[intake],
                      occurred_at=events.occurred_at[intake], dwell_seconds=events.dwell_seconds[intake])
    known = np.array([i in outcome for i in data.ids.tolist()], dtype=bool)
    target = np.array([outcome.get(i, 0) for i in data.ids.tolist()], dtype=np.int8)
    return History(data.leads, kept, data.created, target).take(np.flatnonzero(known))


def stored_spread(session: Session) -> Spread | None:
    """How spread out the stored scores given by the active rule model are; None when it scored no lead yet."""
    active = select(ScoringModelVersion.version).where(ScoringModelVersion.active.is_(True)).scalar_subquery()
    rows = session.execute(select(Lead.score, func.count()).where(Lead.score_model_version == active,
                                                                   Lead.score.is_not(None))
                           .group_by(Lead.score)).tuples().all()
    if not rows:
        return None
    scores, counts = zip(*rows, strict=True)
    return spread(np.repeat(np.asarray(scores, dtype=np.float64), np.asarray(counts, dtype=np.int64)))
