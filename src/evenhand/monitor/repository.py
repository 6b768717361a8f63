"""The monitor's reads and writes: each fact source's rows in bulk (plain tuples through the driver's cursor, times
as epoch seconds computed by the database), the earliest fact each source changed since a moment, the daily points
(written by range, read as series) and the watermarks of the incremental refresh."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Select, String, bindparam, cast, delete, func, insert, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased

from evenhand.errors import NotFound
from evenhand.kit.cursor import epoch, plain_day, plain_time, rows
from evenhand.models import (
    Alert,
    Appeal,
    KpiPoint,
    KpiWatermark,
    Lead,
    Notification,
    Opportunity,
    ProductLine,
    Region,
    Role,
    RoutingDecision,
    StageChange,
    Team,
    User,
)
from evenhand.monitor.kpis import KPIS, Kpi
from evenhand.monitor.series import Points, Series, day_number, filled
from evenhand.monitor.sources import Rows, client

LEAD_ASSIGNED = "lead_assigned"
APP_PUSH = "app_push"


# --- plumbing --------------------------------------------------------------------------------------------------------


def _within(conn: Connection, stmt: Select[Any], column: Any, since: datetime | None, until: datetime
            ) -> Select[Any]:
    """Rows whose ``column`` falls in [since, until) (no lower bound without ``since``)."""
    stmt = stmt.where(column < plain_time(conn, until))
    return stmt if since is None else stmt.where(column >= plain_time(conn, since))


def _people(stmt: Select[Any], person: Any) -> tuple[Select[Any], Any, Any]:
    """``stmt`` joined to the person ``person`` names and their team; their name and team name ("" when none)."""
    user, team = aliased(User), aliased(Team)
    joined = stmt.outerjoin(user, user.id == person).outerjoin(team, team.id == user.team_id)
    return joined, func.coalesce(user.display_name, ""), func.coalesce(team.name, "")


# --- facts -----------------------------------------------------------------------------------------------------------


def lead_rows(session: Session, since: datetime | None, until: datetime) -> tuple[Rows, Rows, Rows]:
    """Leads created in [since, until) as ``sources.leads`` takes them, with their clients and canary arms."""
    conn = session.connection()
    base = select(Lead.id).outerjoin(ProductLine, ProductLine.id == Lead.product_line_id).outerjoin(
        Region, Region.code == Lead.region)
    base, rep, team = _people(base, Lead.owner_id)
    stmt = base.with_only_columns(
        Lead.id, epoch(conn, Lead.created_at), Lead.source, func.coalesce(Region.name, Lead.region, ""), team,
        rep, func.coalesce(ProductLine.name, ""), Lead.status, epoch(conn, Lead.assigned_at),
        epoch(conn, Lead.first_response_at), epoch(conn, Lead.closed_at), Lead.score)
    leads = rows(conn, _within(conn, stmt, Lead.created_at, since, until).order_by(Lead.id))
    ids = _within(conn, select(Lead.id), Lead.created_at, since, until)
    pushes = select(Notification.lead_id, Notification.platform, Notification.app_version).where(
        Notification.kind == LEAD_ASSIGNED, Notification.channel == APP_PUSH, Notification.lead_id.in_(ids))
    clients = [(lead, client(p, v)) for lead, p, v in rows(conn, pushes.order_by(Notification.id))]
    arms = select(RoutingDecision.lead_id, RoutingDecision.arm).where(
        RoutingDecision.arm.is_not(None), RoutingDecision.lead_id.in_(ids)).order_by(RoutingDecision.id)
    return leads, clients, rows(conn, arms)


def notification_rows(session: Session, since: datetime | None, until: datetime) -> Rows:
    """Lead-assigned notifications sent (else created) in [since, until), as ``sources.notifications`` takes them."""
    conn = session.connection()
    at = func.coalesce(Notification.sent_at, Notification.created_at)
    base, rep, team = _people(select(Notification.id), Notification.recipient_id)
    stmt = base.with_only_columns(
        epoch(conn, at), Notification.channel, Notification.platform, Notification.app_version, team, rep,
        epoch(conn, Notification.sent_at), epoch(conn, Notification.delivered_at),
        epoch(conn, Notification.acknowledged_at)).where(Notification.kind == LEAD_ASSIGNED)
    return rows(conn, _within(conn, stmt, at, since, until).order_by(Notification.id))


def decision_rows(session: Session, since: datetime | None, until: datetime) -> Rows:
    """Routing decisions made in [since, until), as ``sources.decisions`` takes them."""
    conn = session.connection()
    appealed = select(func.min(Appeal.created_at)).where(Appeal.decision_id == RoutingDecision.id).correlate(
        RoutingDecision).scalar_subquery()
    base, rep, team = _people(select(RoutingDecision.id), RoutingDecision.rep_id)
    stmt = base.with_only_columns(
        epoch(conn, RoutingDecision.created_at), RoutingDecision.kind, func.coalesce(RoutingDecision.pool_id, ""),
        team, rep, func.coalesce(RoutingDecision.arm, ""), RoutingDecision.outcome, RoutingDecision.latency_us,
        epoch(conn, appealed))
    return rows(conn, _within(conn, stmt, RoutingDecision.created_at, since, until).order_by(RoutingDecision.id))


def alert_rows(session: Session, since: datetime | None, until: datetime) -> Rows:
    """Alerts opened in [since, until), as ``sources.alerts`` takes them."""
    conn = session.connection()
    base, rep, team = _people(select(Alert.id), Alert.rep_id)
    stmt = base.with_only_columns(epoch(conn, Alert.opened_at), Alert.rule, team, rep, Alert.status,
                                  epoch(conn, Alert.resolved_at))
    return rows(conn, _within(conn, stmt, Alert.opened_at, since, until).order_by(Alert.id))


def stage_change_rows(session: Session, since: datetime | None, until: datetime) -> Rows:
    """Every stage change of the deals that left a stage in [since, until), by deal and time, as
    ``sources.stage_exits`` takes them (the changes before ``since`` give when a stage was entered)."""
    conn = session.connection()
    moved = _within(conn, select(StageChange.opportunity_id), StageChange.changed_at, since, until)
    base = select(StageChange.id).join(Opportunity, Opportunity.id == StageChange.opportunity_id).outerjoin(
        ProductLine, ProductLine.id == Opportunity.product_line_id)
    base, rep, team = _people(base, Opportunity.owner_id)
    stmt = base.with_only_columns(
        StageChange.opportunity_id, epoch(conn, StageChange.changed_at), StageChange.from_stage, team, rep,
        func.coalesce(ProductLine.name, ""), epoch(conn, Opportunity.created_at)).where(
        StageChange.opportunity_id.in_(moved), StageChange.changed_at < plain_time(conn, until))
    return rows(conn, stmt.order_by(StageChange.opportunity_id, StageChange.changed_at, StageChange.id))


def people(session: Session, ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """Each person's name and team name ("" when none)."""
    if not ids:
        return {}
    stmt = select(User.id, User.display_name, func.coalesce(Team.name, "")).outerjoin(
        Team, Team.id == User.team_id).where(User.id.in_(sorted(ids)))
    return {i: (name, team) for i, name, team in session.execute(stmt).tuples()}


def reps_working_hours(session: Session) -> list[dict[str, Any] | None]:
    """The weekly working hours of every active rep."""
    return list(session.scalars(select(User.working_hours).where(User.active.is_(True), User.role == Role.REP)))


# --- what changed ----------------------------------------------------------------------------------------------------


def changed_since(session: Session, source: str, moment: datetime) -> int | None:
    """Epoch seconds of the instant that places the earliest fact of ``source`` touched after ``moment`` on its day
    (a lead's creation for anything about the lead), None when nothing was. Touched: any of its times is later, or a
    row it takes a column from was written later (a lead's push notification or routing decision, a decision's
    appeal)."""
    conn = session.connection()
    stmt = _CHANGES[source](conn, plain_time(conn, moment))
    found = rows(conn, stmt)
    return int(found[0][0]) if found and found[0][0] is not None else None


def _lead_changes(conn: Connection, after: Any) -> Select[Any]:
    pushed = select(Notification.lead_id).where(Notification.kind == LEAD_ASSIGNED, Notification.created_at > after)
    routed = select(RoutingDecision.lead_id).where(RoutingDecision.created_at > after)
    return select(epoch(conn, func.min(Lead.created_at))).where(or_(
        Lead.created_at > after, Lead.assigned_at > after, Lead.first_response_at > after, Lead.closed_at > after,
        Lead.scored_at > after, Lead.id.in_(pushed), Lead.id.in_(routed)))


def _notification_changes(conn: Connection, after: Any) -> Select[Any]:
    n = Notification
    return select(epoch(conn, func.min(func.coalesce(n.sent_at, n.created_at)))).where(
        n.kind == LEAD_ASSIGNED, or_(n.created_at > after, n.sent_at > after, n.delivered_at > after,
                                     n.acknowledged_at > after))


def _decision_changes(conn: Connection, after: Any) -> Select[Any]:
    appealed = select(Appeal.decision_id).where(Appeal.created_at > after)
    return select(epoch(conn, func.min(RoutingDecision.created_at))).where(or_(
        RoutingDecision.created_at > after, RoutingDecision.id.in_(appealed)))


def _alert_changes(conn: Connection, after: Any) -> Select[Any]:
    return select(epoch(conn, func.min(Alert.opened_at))).where(or_(
        Alert.opened_at > after, Alert.resolved_at > after, Alert.last_seen_at > after))


def _stage_changes(conn: Connection, after: Any) -> Select[Any]:
    return select(epoch(conn, func.min(StageChange.changed_at))).where(StageChange.changed_at > after)


_CHANGES = {"leads": _lead_changes, "notifications": _notification_changes, "decisions": _decision_changes,
            "alerts": _alert_changes, "stage_exits": _stage_changes}


# --- points ----------------------------------------------------------------------------------------------------------


def clear(session: Session, kpi_ids: Collection[str] | None, *, from_day: date | None = None) -> None:
    """Delete the points of these KPIs (every KPI's with None) from ``from_day`` on (all of them without)."""
    stmt = delete(KpiPoint)
    if kpi_ids is not None:
        stmt = stmt.where(KpiPoint.kpi.in_(sorted(kpi_ids)))
    if from_day is not None:
        stmt = stmt.where(KpiPoint.day >= from_day)
    session.execute(stmt)


def write(session: Session, points: Sequence[Points], to_date: Callable[[int], date]) -> int:
    """Insert the points through the driver's cursor in one executemany (a year of a company's KPIs is some 10⁵
    rows; SQLAlchemy's parameter processing would take longer than the insert); ``to_date`` turns a day number
    into the stored day."""
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    compiled = _INSERT_SQLITE if sqlite else _INSERT_POSTGRESQL
    statement = compiled.compile(dialect=conn.dialect)
    values = [(p.kpi, d, value, plain_day(conn, to_date(day)), n, x, x2, v, _json(age))
              for p in points for d, value, day, n, x, x2, v, age in p.rows()]
    if values:
        params: list[Any] = values if statement.positional else [dict(zip(POINT_COLUMNS, r, strict=True))
                                                                   for r in values]
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(statement.string, params)
        finally:
            cursor.close()
    return len(values)


POINT_COLUMNS = ("kpi", "dimension", "value", "day", "n", "x", "x2", "v", "by_age")
_INSERT_SQLITE = insert(KpiPoint).values({c: bindparam(c) for c in POINT_COLUMNS})
# psycopg sends text as text: the JSON is cast to the column's type in the statement
_INSERT_POSTGRESQL = insert(KpiPoint).values({**{c: bindparam(c) for c in POINT_COLUMNS},
                                              "by_age": cast(bindparam("by_age", type_=String), JSONB)})


def _json(value: list[int] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def last_day(session: Session) -> date | None:
    """The last day any KPI has a point on."""
    return session.scalar(select(func.max(KpiPoint.day)))


def latest(session: Session, kpi_ids: Collection[str]) -> dict[str, KpiPoint]:
    """Each KPI's latest whole-company point."""
    if not kpi_ids:
        return {}
    last = select(KpiPoint.kpi, func.max(KpiPoint.day).label("day")).where(
        KpiPoint.kpi.in_(sorted(kpi_ids)), KpiPoint.dimension == "", KpiPoint.value == "").group_by(
        KpiPoint.kpi).subquery()
    stmt = select(KpiPoint).join(last, (last.c.kpi == KpiPoint.kpi) & (last.c.day == KpiPoint.day)).where(
        KpiPoint.dimension == "", KpiPoint.value == "")
    return {p.kpi: p for p in session.scalars(stmt)}


def kpi(session: Session, kpi_id: str) -> Kpi:
    """The active definitions' KPI ``kpi_id``; ``NotFound`` naming ``kpi`` when they have none."""
    found = KPIS.compiled(KPIS.active(session).body).get(kpi_id)
    if found is None:
        raise NotFound("No KPI {kpi} in the active definitions.", field="kpi", kpi=kpi_id)
    return found


def series(session: Session, kpi_id: str | Kpi, first: date, last: date, dimension: str = "", value: str = ""
           ) -> Series:
    """One cell of a KPI over every day of [first, last] (the whole company by default); ``kpi_id`` may be the
    KPI itself."""
    return cells(session, kpi_id, dimension, first, last, value=value).get(value) or _empty(
        _of(session, kpi_id), first, last)


def cells(session: Session, kpi_id: str | Kpi, dimension: str, first: date, last: date, *,
          value: str | None = None) -> dict[str, Series]:
    """Each value of a dimension (that had rows in [first, last]) with its series over every day of the span."""
    found = _of(session, kpi_id)
    stmt = select(KpiPoint.value, KpiPoint.day, KpiPoint.n, KpiPoint.x, KpiPoint.x2, KpiPoint.v, KpiPoint.by_age
                  ).where(KpiPoint.kpi == found.id, KpiPoint.dimension == dimension, KpiPoint.day >= first,
                          KpiPoint.day <= last)
    if value is not None:
        stmt = stmt.where(KpiPoint.value == value)
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in session.execute(stmt.order_by(KpiPoint.value, KpiPoint.day)).tuples():
        grouped.setdefault(row[0], []).append(row[1:])
    return {v: _cell(found, first, last, rows) for v, rows in grouped.items()}


def _of(session: Session, kpi_id: str | Kpi) -> Kpi:
    return kpi_id if isinstance(kpi_id, Kpi) else kpi(session, kpi_id)


def _cell(found: Kpi, first: date, last: date, rows: list[tuple[Any, ...]]) -> Series:
    days, n, x, x2, v, ages = zip(*rows, strict=True)
    horizon = found.horizon_days if found.kind == "rate" else None
    by_age = np.array([a if a is not None else [0] * (horizon + 1) for a in ages], np.int64) if horizon is not None \
        else None
    return filled(found, day_number(first), day_number(last), np.array([day_number(d) for d in days], np.int64),
                  np.array(n, np.float64), np.array(x, np.float64), np.array(x2, np.float64),
                  np.array(v, np.float64), by_age)


def _empty(found: Kpi, first: date, last: date) -> Series:
    return filled(found, day_number(first), day_number(last), np.empty(0, np.int64), np.empty(0), np.empty(0),
                  np.empty(0), np.empty(0), None)


def take_turns(session: Session) -> None:
    """One refresh at a time: on PostgreSQL a transaction-scoped advisory lock (two refreshes would both insert the
    same days' points); SQLite's write lock, taken when a writing transaction begins, already serialises them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_TAKE_TURNS, {"key": "evenhand.monitor.refresh"})


_TAKE_TURNS = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


# --- watermarks ------------------------------------------------------------------------------------------------------


def watermarks(session: Session) -> dict[str, KpiWatermark]:
    return {w.source: w for w in session.scalars(select(KpiWatermark))}


def mark(session: Session, source: str, seen_until: datetime, refreshed_at: datetime) -> None:
    """Move (or set) a source's watermark."""
    found = session.get(KpiWatermark, source)
    if found is None:
        session.add(KpiWatermark(source=source, seen_until=seen_until, refreshed_at=refreshed_at))
    else:
        found.seen_until, found.refreshed_at = seen_until, refreshed_at


def forget(session: Session, sources: Collection[str]) -> None:
    """Drop these watermarks (a full refresh follows)."""
    if sources:
        session.execute(delete(KpiWatermark).where(KpiWatermark.source.in_(sorted(sources))))
