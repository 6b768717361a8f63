"""Activity queries; ``readable`` is the only place activity visibility is decided.

Captured activities are written in bulk: plain Core ``INSERT``/``UPDATE`` statements sent as one ``executemany``
per chunk, never ORM objects, so an import of a million rows holds one chunk at a time."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import ARRAY, Select, String, Table, and_, bindparam, func, insert, literal_column, or_, select, update
from sqlalchemy.orm import Session, aliased

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import owned_by_visible
from evenhand.kit.clock import as_utc
from evenhand.models import Activity, ActivityType, Lead, Opportunity, SourceSystem, UnmatchedActivity, User

ACTIVITIES = cast(Table, Activity.__table__)
WAITING = cast(Table, UnmatchedActivity.__table__)
# What an import compares to tell an updated activity from an unchanged one, in this order.
COMPARED = ("type", "direction", "rep_id", "lead_id", "opportunity_id", "occurred_at", "duration_seconds", "answered",
            "replied", "subject", "recording_ref", "attachment_count", "message_count", "body", "declared_type")


def readable(principal: Principal) -> Select[Activity]:
    return select(Activity).where(owned_by_visible(principal, Activity.rep_id))


def listing(principal: Principal, *, rep_id: int | None = None, lead_id: int | None = None,
            type: ActivityType | None = None, since: date | None = None, until: date | None = None,
            zone: ZoneInfo | None = None) -> Select[Activity]:
    """The readable activities that match every filter given, newest first (``since``/``until``: whole days in
    ``zone``)."""
    stmt = readable(principal).order_by(Activity.occurred_at.desc(), Activity.id.desc())
    for column, wanted in ((Activity.rep_id, rep_id), (Activity.lead_id, lead_id), (Activity.type, type)):
        if wanted is not None:
            stmt = stmt.where(column == wanted)
    zone = zone or ZoneInfo("Asia/Shanghai")
    if since is not None:
        stmt = stmt.where(Activity.occurred_at >= datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        stmt = stmt.where(Activity.occurred_at < datetime.combine(until, time.min, tzinfo=zone) + timedelta(days=1))
    return stmt


def lead_work(principal: Principal, lead_id: int) -> Select[Activity]:
    """The readable activities of a lead: linked to it, or to a deal it became; newest first."""
    deals = select(Opportunity.id).where(Opportunity.lead_id == lead_id)
    return _newest(readable(principal).where(or_(Activity.lead_id == lead_id, Activity.opportunity_id.in_(deals))))


def deal_work(principal: Principal, deal: Opportunity) -> Select[Activity]:
    """The readable activities of a deal: linked to it, and its lead's linked to no deal from before the deal was
    made (the work that led to it); newest first."""
    mine = Activity.opportunity_id == deal.id
    if deal.lead_id is not None:
        mine = or_(mine, and_(Activity.lead_id == deal.lead_id, Activity.opportunity_id.is_(None),
                              Activity.occurred_at < deal.created_at))
    return _newest(readable(principal).where(mine))


def _newest(stmt: Select[Activity]) -> Select[Activity]:
    return stmt.order_by(Activity.occurred_at.desc(), Activity.id.desc())


def by_source(session: Session, stmt: Select[Any]) -> dict[SourceSystem, int]:
    """How many of ``stmt``'s activities came from each source system."""
    found = stmt.order_by(None).subquery()
    rows = session.execute(select(found.c.source_system, func.count()).group_by(found.c.source_system)).tuples()
    return {SourceSystem(source): n for source, n in rows}


def count(session: Session, stmt: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def with_names(session: Session, stmt: Select[Any], *, limit: int
               ) -> list[tuple[Activity, str | None, str | None, str | None]]:
    """Each activity with its rep's name, its lead's company and its deal's name (for a list a person reads)."""
    page = stmt.add_columns(User.display_name, Lead.company, Opportunity.name).outerjoin(
        User, User.id == Activity.rep_id).outerjoin(Lead, Lead.id == Activity.lead_id).outerjoin(
        Opportunity, Opportunity.id == Activity.opportunity_id).limit(limit)
    return [(a, rep, company, deal) for a, rep, company, deal in session.execute(page).tuples()]


def by_key(session: Session, source: SourceSystem, external_id: str) -> Activity | None:
    """Read afresh: the bulk writes below go past the session, so what it holds may be stale."""
    stmt = select(Activity).where(Activity.source_system == source, Activity.external_id == external_id)
    return session.scalar(stmt.execution_options(populate_existing=True))


# --- bulk capture: statements built once (see CONVENTIONS.md, hot paths) -----------------------------------
# A batch's keys go as ONE parameter (a JSON array read by json_each on SQLite, an array on PostgreSQL), not as an
# expanding IN: SQLAlchemy renders an expanding list afresh on every call, thousands of bind names per batch, and that
# cost more than the queries themselves.

def _among(column: Any, dialect: str) -> Any:
    """``column`` is one of the batch's keys (the ``ids`` parameter, see ``_keys``)."""
    if dialect == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(bindparam("ids"))))
    return column == func.any(bindparam("ids", type_=ARRAY(String)))


def _by_dialect(build: Callable[[str], Any]) -> dict[str, Any]:
    return {dialect: build(dialect) for dialect in ("sqlite", "postgresql")}


_STORED = _by_dialect(lambda d: select(ACTIVITIES.c.external_id, ACTIVITIES.c.id, *(ACTIVITIES.c[n] for n in COMPARED))
                      .where(ACTIVITIES.c.source_system == bindparam("source"), _among(ACTIVITIES.c.external_id, d)))
_WAITING = _by_dialect(lambda d: select(WAITING.c.external_id, WAITING.c.id, WAITING.c.reason, WAITING.c.fields,
                                        WAITING.c.resolved_at.is_(None))
                       .where(WAITING.c.source_system == bindparam("source"), _among(WAITING.c.external_id, d)))
_IDS = _by_dialect(lambda d: select(ACTIVITIES.c.external_id, ACTIVITIES.c.id).where(
    ACTIVITIES.c.source_system == bindparam("source"), _among(ACTIVITIES.c.external_id, d)))


def _sources(model: Any) -> Any:
    """The distinct sources of a table whose unique index is (source, external_id), by a loose index scan (one
    index seek per source): an external id is then sought under each source rather than by reading every row."""
    first = select(func.min(model.source).label("v")).cte(f"{model.__tablename__}_sources", recursive=True)
    later = aliased(model)
    return select(first.union_all(select(select(func.min(later.source)).where(later.source > first.c.v)
                                         .scalar_subquery()).where(first.c.v.is_not(None))).c.v)


_OLDEST_FIRST = (Lead.created_at, Lead.id)
_LEADS_BY_ID = _by_dialect(lambda d: select(Lead.external_id, Lead.id).where(
    Lead.source.in_(_sources(Lead)), _among(Lead.external_id, d)).order_by(*_OLDEST_FIRST))
_LEADS_BY_EMAIL = _by_dialect(lambda d: select(Lead.email_key, Lead.id).where(_among(Lead.email_key, d))
                              .order_by(*_OLDEST_FIRST))
_LEADS_BY_PHONE = _by_dialect(lambda d: select(Lead.phone_key, Lead.id).where(_among(Lead.phone_key, d))
                              .order_by(*_OLDEST_FIRST))
_DEALS = _by_dialect(lambda d: select(Opportunity.external_id, Opportunity.id, Opportunity.lead_id).where(
    Opportunity.source.in_(_sources(Opportunity)), _among(Opportunity.external_id, d)).order_by(Opportunity.id.desc()))
_UPDATE = update(ACTIVITIES).where(ACTIVITIES.c.id == bindparam("row_id"))
_INSERT_WAITING = insert(WAITING)
_UPDATE_WAITING = update(WAITING).where(WAITING.c.id == bindparam("row_id"))


def _keys(session: Session, statements: dict[str, Any], keys: Collection[str], **params: Any) -> Sequence[Any]:
    conn = session.connection()
    dialect = conn.dialect.name
    ids: Any = orjson.dumps(list(keys)).decode() if dialect == "sqlite" else list(keys)
    return conn.execute(statements[dialect], {"ids": ids, **params}).all()  # fetchall: rows one by one cost more


def leads_by_key(session: Session, *, external_ids: Collection[str], email_keys: Collection[str],
                 phone_keys: Collection[str]) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """The leads carrying these keys, one query per kind (as ``leads.repository.lead_ids_by_key``, whose results a
    test holds equal, with the batch's keys as one parameter): key → lead id, the newest where several carry it.
    E-mails and phones are given already normalised (``leads.keys``)."""
    found = []
    for statements, keys in ((_LEADS_BY_ID, external_ids), (_LEADS_BY_EMAIL, email_keys),
                             (_LEADS_BY_PHONE, phone_keys)):
        found.append({key: lead_id for key, lead_id in _keys(session, statements, keys)} if keys else {})
    return found[0], found[1], found[2]


def deals_by_key(session: Session, external_ids: Collection[str]) -> dict[str, tuple[int, int | None]]:
    """Deals by their CRM id, whatever their source: (deal id, its lead's id); where two sources share an id, the
    deal made first (as ``opportunities.repository.ids_by_external_id``)."""
    if not external_ids:
        return {}
    return {key: (deal_id, lead_id) for key, deal_id, lead_id in _keys(session, _DEALS, external_ids)}


def stored(session: Session, source: SourceSystem, external_ids: Collection[str]
           ) -> dict[str, tuple[int, tuple[Any, ...]]]:
    """The activities already captured under these ids: external id → (id, the ``COMPARED`` values)."""
    return {row[0]: (row[1], tuple(row[2:])) for row in _keys(session, _STORED, external_ids, source=source)}


def waiting(session: Session, source: SourceSystem, external_ids: Collection[str]
            ) -> dict[str, tuple[int, str, dict[str, Any], bool]]:
    """The reconciliation entries under these ids: external id → (entry id, reason, fields, whether still open)."""
    rows = _keys(session, _WAITING, external_ids, source=source)
    return {row[0]: (row[1], row[2], row[3], bool(row[4])) for row in rows}


def ids(session: Session, source: SourceSystem, external_ids: Collection[str]) -> dict[str, int]:
    return {external_id: activity_id for external_id, activity_id in _keys(session, _IDS, external_ids, source=source)}


def insert_activities(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """New activities, each a tuple in ``INSERTED`` order, through the driver's ``executemany``: SQLAlchemy's per-row
    parameter handling costs more than the INSERT itself. Values are stored as the ORM stores them (enums by value,
    times as naive UTC in SQLAlchemy's SQLite format)."""
    if not rows:
        return
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    stored_time = _sqlite_time if conn.dialect.name == "sqlite" else _naive_utc
    sql = f"INSERT INTO activities ({', '.join(INSERTED)}) VALUES ({', '.join([mark] * len(INSERTED))})"
    conn.exec_driver_sql(sql, [
        (source.value, key, kind.value, direction.value, rep, lead, deal, stored_time(at), *middle,
         declared and declared.value)
        for source, key, kind, direction, rep, lead, deal, at, *middle, declared in rows])


INSERTED = ("source_system", "external_id", *COMPARED)


def _naive_utc(at: datetime) -> datetime:
    return as_utc(at).replace(tzinfo=None)


def _sqlite_time(at: datetime) -> str:
    return _naive_utc(at).isoformat(" ", "microseconds")  # SQLAlchemy's storage format for DateTime on SQLite


def update_activities(session: Session, values: Sequence[dict[str, Any]]) -> None:
    """Changed activities: each with its ``row_id`` and the same set of columns."""
    if values:
        session.connection().execute(_UPDATE, list(values))


def insert_waiting(session: Session, values: Sequence[dict[str, Any]]) -> None:
    if values:
        session.connection().execute(_INSERT_WAITING, list(values))


def update_waiting(session: Session, values: Sequence[dict[str, Any]]) -> None:
    """Changed reconciliation entries: each with its ``row_id`` and the same set of columns."""
    if values:
        session.connection().execute(_UPDATE_WAITING, list(values))


# --- the reconciliation list ----------------------------------------------------------------------------

def unmatched(*, reason: str | None = None, include_resolved: bool = False) -> Select[UnmatchedActivity]:
    """The reconciliation list, oldest activity first (it has waited longest)."""
    stmt = select(UnmatchedActivity).order_by(UnmatchedActivity.occurred_at, UnmatchedActivity.id)
    if not include_resolved:
        stmt = stmt.where(UnmatchedActivity.resolved_at.is_(None))
    if reason is not None:
        stmt = stmt.where(UnmatchedActivity.reason == reason)
    return stmt


def open_after(session: Session, after_id: int, *, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """Open entries past ``after_id`` in id order, (id, fields): a walk over the whole list a batch at a time."""
    stmt = select(UnmatchedActivity.id, UnmatchedActivity.fields).where(
        UnmatchedActivity.resolved_at.is_(None), UnmatchedActivity.id > after_id).order_by(
        UnmatchedActivity.id).limit(limit)
    return [(entry_id, fields) for entry_id, fields in session.execute(stmt).tuples()]


def waiting_counts(session: Session) -> dict[str, int]:
    """Open entries by reason."""
    stmt = select(UnmatchedActivity.reason, func.count()).where(UnmatchedActivity.resolved_at.is_(None)).group_by(
        UnmatchedActivity.reason)
    return {reason: n for reason, n in session.execute(stmt).tuples()}
