"""Lead queries; ``readable`` is the only place lead visibility is decided."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.kit.clock import as_utc
from evenhand.leads.schemas import LeadFilter
from evenhand.models import BehaviourEvent, Lead, User


def readable(principal: Principal) -> Select[Lead]:
    return select(Lead).where(owned_by_visible(principal, Lead.owner_id))


def readable_lead(session: Session, principal: Principal, lead_id: int) -> Lead | None:
    return session.scalar(readable(principal).where(Lead.id == lead_id))


def listing(principal: Principal, f: LeadFilter, zone: ZoneInfo) -> Select[tuple[Lead]]:
    """The lead list (API and page alike): what the principal may read, narrowed by ``f``, newest first."""
    return filtered(readable(principal), f, zone).order_by(Lead.created_at.desc(), Lead.id.desc())


def count(session: Session, stmt: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def with_owner_names(session: Session, stmt: Select[tuple[Lead]], *, limit: int) -> list[tuple[Lead, str | None]]:
    page = stmt.add_columns(User.display_name).outerjoin(User, User.id == Lead.owner_id).limit(limit)
    return list(session.execute(page).tuples())


def events(session: Session, lead_id: int, *, newest_first: bool = False,
           limit: int | None = None) -> list[BehaviourEvent]:
    order = BehaviourEvent.occurred_at.desc() if newest_first else BehaviourEvent.occurred_at
    return list(session.scalars(select(BehaviourEvent).where(BehaviourEvent.lead_id == lead_id)
                                .order_by(order).limit(limit)))


def companies_and_scores(session: Session, lead_ids: Collection[int]) -> dict[int, tuple[str, int | None]]:
    """By lead id; for leads the caller has already found the principal may read."""
    rows = session.execute(select(Lead.id, Lead.company, Lead.score).where(Lead.id.in_(lead_ids))).tuples()
    return {lead_id: (company, score) for lead_id, company, score in rows}


def sources(session: Session) -> list[str]:
    """Every source channel any lead came from (the list's filter offers them all, to everyone)."""
    return sorted(session.scalars(select(Lead.source).distinct()))


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


def lead_ids_by_key(session: Session, *, external_ids: Collection[str] = (), emails: Collection[str] = (),
                    phones: Collection[str] = ()) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """The leads that values from a company's export name, one query per kind of key: external ids (of any
    source), e-mails and phones (compared by their normalised keys, so '+86 138 0000 0000' finds a lead stored as
    '13800000000'). Three maps, value as given → lead id; where several leads carry a value, the newest. A value
    naming no lead is left out. Reads through the connection, past the session: the caller flushes first."""
    from evenhand.leads import keys

    wanted = ({v: v for v in external_ids if v}, {v: k for v in emails if (k := keys.email_key(v))},
              {v: k for v in phones if (k := keys.phone_key(v))})
    found: list[dict[str, int]] = []
    for stmt, given in zip(_LEADS_BY_KEY, wanted, strict=True):
        rows: Any = session.connection().execute(stmt, {"keys": list(set(given.values()))}) if given else ()
        newest = {key: lead_id for key, lead_id in rows}  # the statements sort oldest first
        found.append({value: newest[key] for value, key in given.items() if key in newest})
    return found[0], found[1], found[2]


def _leads_by_key() -> tuple[Any, ...]:
    """Built once (CONVENTIONS.md, hot paths). The unique index starts with the source: the external ids are
    sought under each of its few distinct sources, found by a loose index scan, rather than by scanning every lead."""
    from sqlalchemy import bindparam
    from sqlalchemy.orm import aliased

    first = select(func.min(Lead.source).label("v")).cte("lead_sources", recursive=True)
    later = aliased(Lead)
    sources = first.union_all(select(select(func.min(later.source)).where(later.source > first.c.v)
                                     .scalar_subquery()).where(first.c.v.is_not(None)))
    keys: Any = bindparam("keys", expanding=True)
    oldest_first = (Lead.created_at, Lead.id)
    return (select(Lead.external_id, Lead.id).where(Lead.source.in_(select(sources.c.v)), Lead.external_id.in_(keys))
            .order_by(*oldest_first),
            select(Lead.email_key, Lead.id).where(Lead.email_key.in_(keys)).order_by(*oldest_first),
            select(Lead.phone_key, Lead.id).where(Lead.phone_key.in_(keys)).order_by(*oldest_first))


_LEADS_BY_KEY = _leads_by_key()
