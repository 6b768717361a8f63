"""Appeal queries; ``readable`` is the only place appeal visibility is decided.

An appeal is read by whoever may read its appellant's records: the rep themselves, the supervisor of
the appellant's team, and admin, ops and auditors.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.appeals.metrics import AppealFact
from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Appeal, AppealStatus


def readable(principal: Principal) -> Select[Appeal]:
    return select(Appeal).where(owned_by_visible(principal, Appeal.appellant_id))


def listed(principal: Principal, *, status: AppealStatus | None = None, limit: int = 200) -> Select[Appeal]:
    """Newest first; open appeals come oldest first, as a queue is worked."""
    stmt = readable(principal)
    if status is not None:
        stmt = stmt.where(Appeal.status == status)
    order = Appeal.id.asc() if status is AppealStatus.OPEN else Appeal.id.desc()
    return stmt.order_by(order).limit(limit)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def facts(session: Session, principal: Principal, *, since: date | None, until: date | None,
          zone: ZoneInfo) -> list[AppealFact]:
    """The appeals filed in ``since``..``until`` (whole days in ``zone``, both inclusive) the caller may read."""
    visible = readable(principal).subquery()
    stmt = select(visible.c.team_id, visible.c.status, visible.c.created_at, visible.c.decided_at)
    if since is not None:
        stmt = stmt.where(visible.c.created_at >= _day_start(since, zone))
    if until is not None:
        stmt = stmt.where(visible.c.created_at < _day_start(until + timedelta(days=1), zone))
    return [AppealFact(team, AppealStatus(status).value, created, decided)
            for team, status, created, decided in session.execute(stmt).tuples()]
