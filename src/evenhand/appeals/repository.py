"""Appeal queries; ``readable`` is the only place appeal visibility is decided.

An appeal is read by whoever may read its appellant's records: the rep themselves, the supervisor of
the appellant's team, and admin, ops and auditors.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.appeals.metrics import AppealFact
from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.models import Appeal, AppealStatus, Lead


def readable(principal: Principal) -> Select[Appeal]:
    return select(Appeal).where(owned_by_visible(principal, Appeal.appellant_id))


def listed(principal: Principal, *, status: AppealStatus | None = None, limit: int = 200) -> Select[Appeal]:
    """Newest first; open appeals come oldest first, as a queue is worked."""
    stmt = readable(principal)
    if status is not None:
        stmt = stmt.where(Appeal.status == status)
    order = Appeal.id.asc() if status is AppealStatus.OPEN else Appeal.id.desc()
    return stmt.order_by(order).limit(limit)


def decided(principal: Principal, *, limit: int) -> Select[Appeal]:
    """Ruled on or withdrawn, newest first."""
    return readable(principal).where(Appeal.status != AppealStatus.OPEN).order_by(Appeal.id.desc()).limit(limit)


def filed_by(principal: Principal, *, decision_id: int | None = None, limit: int) -> Select[Appeal]:
    """The principal's own appeals (about one decision, if given), newest first."""
    stmt = readable(principal).where(Appeal.appellant_id == principal.user_id)
    if decision_id is not None:
        stmt = stmt.where(Appeal.decision_id == decision_id)
    return stmt.order_by(Appeal.id.desc()).limit(limit)


def companies(session: Session, lead_ids: Collection[int]) -> dict[int, str]:
    """The company of each appealed lead. An appeal names its lead to whoever reads the appeal, even once the
    lead has moved to an owner they may not read (the supervisor still rules on it)."""
    if not lead_ids:
        return {}
    stmt = select(Lead.id, Lead.company).where(Lead.id.in_(set(lead_ids)))
    return dict(session.execute(stmt).tuples().all())


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
