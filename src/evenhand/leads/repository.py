"""Lead queries; ``readable`` is the only place lead visibility is decided."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.kit.clock import as_utc
from evenhand.leads.schemas import LeadFilter
from evenhand.models import Lead


def readable(principal: Principal) -> Select[Lead]:
    return select(Lead).where(owned_by_visible(principal, Lead.owner_id))


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def filtered(stmt: Select[Any], f: LeadFilter, zone: ZoneInfo | None = None) -> Select[Any]:
    """Narrow a readable lead query by the list filters (dates are whole days in ``zone``)."""
    zone = zone or ZoneInfo("Asia/Shanghai")
    equal = {"status": Lead.status, "owner_id": Lead.owner_id, "source": Lead.source, "region": Lead.region,
             "industry": Lead.industry}
    for name, column in equal.items():
        if getattr(f, name) is not None:
            stmt = stmt.where(column == getattr(f, name))
    if f.q:
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(Lead.company.ilike(pattern, escape="\\") | Lead.contact_name.ilike(pattern, escape="\\"))
    if f.score_min is not None:
        stmt = stmt.where(Lead.score >= f.score_min)
    if f.score_max is not None:
        stmt = stmt.where(Lead.score <= f.score_max)
    if f.created_from is not None:
        stmt = stmt.where(Lead.created_at >= _day_start(f.created_from, zone))
    if f.created_to is not None:
        stmt = stmt.where(Lead.created_at < _day_start(f.created_to, zone) + timedelta(days=1))
    if not f.include_duplicates:
        stmt = stmt.where(Lead.duplicate_of_id.is_(None))
    return stmt


def score_rows(session: Session, principal: Principal, *, since: date | None, until: date | None,
               zone: ZoneInfo) -> Sequence[tuple[str, datetime, int | None]]:
    visible = readable(principal).subquery()
    stmt = select(visible.c.source, visible.c.created_at, visible.c.score)
    if since is not None:
        stmt = stmt.where(visible.c.created_at >= _day_start(since, zone))
    if until is not None:
        stmt = stmt.where(visible.c.created_at < _day_start(until, zone) + timedelta(days=1))
    rows = cast(Sequence[tuple[str, datetime, int | None]], session.execute(stmt).all())
    return [(source, as_utc(created), score) for source, created, score in rows]
