"""Reading the change registry: the entries by filter, newest first, and what was done with one (from the audit
chain, which holds every write to it)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.models import AuditEntry, ChangeEntry, ChangeStatus, User

SUBJECT = ChangeEntry.__tablename__
ACTIONS = ("change.added", "change.edited", "change.released", "change.rolled_back")


def listing(*, status: ChangeStatus | None = None, system: str | None = None, source: str | None = None,
            kind: str | None = None, since: date | None = None, until: date | None = None,
            zone: ZoneInfo) -> Select[ChangeEntry]:
    """The entries matching every filter given, by the time they took effect, newest first (``since``/``until``:
    whole days in ``zone``)."""
    stmt = select(ChangeEntry).order_by(ChangeEntry.effective_at.desc(), ChangeEntry.id.desc())
    for column, wanted in ((ChangeEntry.status, status), (ChangeEntry.system, system),
                           (ChangeEntry.source, source), (ChangeEntry.kind, kind)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    if since is not None:
        stmt = stmt.where(ChangeEntry.effective_at >= datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        stmt = stmt.where(ChangeEntry.effective_at < datetime.combine(until, time.min, tzinfo=zone) + timedelta(days=1))
    return stmt


def systems(session: Session) -> list[str]:
    """Every system an entry names, for the registry's filter."""
    return list(session.scalars(select(ChangeEntry.system).distinct().order_by(ChangeEntry.system)))


def history(session: Session, change_id: int) -> list[tuple[AuditEntry, str | None]]:
    """The audit entries of one change, oldest first, with their author's display name."""
    stmt = (select(AuditEntry, User.display_name).outerjoin(User, User.id == AuditEntry.actor_id)
            .where(AuditEntry.action.in_(ACTIONS), AuditEntry.subject_type == SUBJECT,
                   AuditEntry.subject_id == str(change_id)).order_by(AuditEntry.seq))
    return list(session.execute(stmt).tuples())


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())
