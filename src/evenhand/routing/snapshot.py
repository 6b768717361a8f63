"""Reading the organisation as routing sees it: one ``RepState`` per rep, counted as of ``now``.

Counts are the rep's own day and ISO week in the organisation's zone; win rates come from the deals
the rep closed in the last ``WIN_WINDOW_DAYS``; quota attainment is this month's won amount against
the monthly quota.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from evenhand.kit.clock import as_utc
from evenhand.models import (
    Department,
    Lead,
    LeadStatus,
    Leave,
    Opportunity,
    ProductLine,
    Region,
    Role,
    Stage,
    Team,
    User,
    UserGrant,
)
from evenhand.models.org import user_product_lines
from evenhand.routing.values import LeadSnapshot, RepState

WIN_WINDOW_DAYS = 180
OPEN = (LeadStatus.ASSIGNED, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


def lead_snapshot(lead: Lead) -> LeadSnapshot:
    return LeadSnapshot(id=lead.id, score=lead.score or 0, source=lead.source, industry=lead.industry,
                        region=lead.region, company_size=lead.company_size, title=lead.title, company=lead.company)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return as_utc(datetime.combine(day, time.min, tzinfo=zone))


def _counts(session: Session, since: datetime, *, high_value: int | None = None) -> dict[int, int]:
    """Leads assigned per rep since a moment. Counted here rather than with GROUP BY, which would lead
    SQLite to scan the owner index instead of walking the assigned_at index over today's few rows."""
    stmt = select(Lead.owner_id).where(Lead.assigned_at >= since)
    if high_value is not None:
        stmt = stmt.where(Lead.score >= high_value)
    return dict(Counter(owner for owner in session.scalars(stmt) if owner is not None))


def _open(session: Session) -> dict[int, int]:
    stmt = select(Lead.owner_id, func.count()).where(Lead.status.in_(OPEN)).group_by(Lead.owner_id)
    return {owner: n for owner, n in session.execute(stmt).tuples() if owner is not None}


def _records(session: Session, now: datetime) -> dict[int, tuple[int, int]]:
    since = now - timedelta(days=WIN_WINDOW_DAYS)
    won = func.sum(case((Opportunity.stage == Stage.WON, 1), else_=0))
    stmt = (select(Opportunity.owner_id, won, func.count())
            .where(Opportunity.stage.in_((Stage.WON, Stage.LOST)), Opportunity.closed_at >= since)
            .group_by(Opportunity.owner_id))
    return {owner: (int(w or 0), int(n)) for owner, w, n in session.execute(stmt).tuples()}


def _attainment(session: Session, month_start: datetime) -> dict[int, float]:
    stmt = (select(Opportunity.owner_id, func.sum(Opportunity.amount))
            .where(Opportunity.stage == Stage.WON, Opportunity.closed_at >= month_start)
            .group_by(Opportunity.owner_id))
    return {owner: float(total or 0) for owner, total in session.execute(stmt).tuples()}


def _grants(session: Session, now: datetime) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    stmt = select(UserGrant.user_id, UserGrant.grant).where(
        or_(UserGrant.expires_at.is_(None), UserGrant.expires_at > now))
    for user_id, grant in session.execute(stmt).tuples():
        out[user_id].append(grant)
    return out


def _leaves(session: Session, today: date) -> dict[int, list[tuple[date, date]]]:
    out: dict[int, list[tuple[date, date]]] = defaultdict(list)
    stmt = select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
        and_(Leave.ends_on >= today - timedelta(days=1), Leave.starts_on <= today + timedelta(days=1)))
    for user_id, start, end in session.execute(stmt).tuples():
        out[user_id].append((start, end))
    return out


def _product_lines(session: Session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    stmt = select(user_product_lines.c.user_id, ProductLine.code).join(
        ProductLine, ProductLine.id == user_product_lines.c.product_line_id)
    for user_id, code in session.execute(stmt).tuples():
        out[user_id].append(code)
    return out


def rep_states(session: Session, now: datetime, zone: ZoneInfo, *, high_value: int) -> list[RepState]:
    """Every user who can carry leads (reps, and supervisors who sell), with today's counts."""
    today = as_utc(now).astimezone(zone).date()
    week_start = today - timedelta(days=today.weekday())
    facts: dict[str, Any] = {
        "today": _counts(session, _day_start(today, zone)), "week": _counts(session, _day_start(week_start, zone)),
        "hv_today": _counts(session, _day_start(today, zone), high_value=high_value),
        "hv_week": _counts(session, _day_start(week_start, zone), high_value=high_value),
        "open": _open(session), "records": _records(session, now), "grants": _grants(session, now),
        "leaves": _leaves(session, today), "lines": _product_lines(session),
        "won": _attainment(session, _day_start(today.replace(day=1), zone))}
    teams = {t.id: t for t in session.scalars(select(Team))}
    departments = {d.id: d.code for d in session.scalars(select(Department))}
    regions = {r.id: r.code for r in session.scalars(select(Region))}
    users = session.scalars(select(User).where(User.role.in_((Role.REP, Role.SUPERVISOR))).order_by(User.id))
    return [_rep(user, teams, departments, regions, facts) for user in users]


def _rep(user: User, teams: dict[int, Team], departments: dict[int, str], regions: dict[int, str],
         facts: dict[str, Any]) -> RepState:
    team = teams.get(user.team_id or 0)
    region_id = user.region_id or (team.region_id if team else None)
    wins, deals = facts["records"].get(user.id, (0, 0))
    quota = float(user.monthly_quota or 0)
    return RepState(
        id=user.id, username=user.username, level=user.level.value, team=team.name if team else None,
        department=departments.get(team.department_id) if team else None, region=regions.get(region_id or 0),
        skills=tuple(user.skills or ()), product_lines=tuple(facts["lines"].get(user.id, ())),
        grants=tuple(facts["grants"].get(user.id, ())), active=user.active, left_on=user.left_on,
        presence=user.presence.value, presence_since=user.presence_since, timezone=user.timezone,
        working_hours={d: tuple((a, b) for a, b in spans) for d, spans in (user.working_hours or {}).items()},
        leaves=tuple(facts["leaves"].get(user.id, ())), open_leads=facts["open"].get(user.id, 0),
        max_open_leads=user.max_open_leads, leads_today=facts["today"].get(user.id, 0),
        daily_lead_cap=user.daily_lead_cap, leads_this_week=facts["week"].get(user.id, 0),
        high_value_today=facts["hv_today"].get(user.id, 0), high_value_this_week=facts["hv_week"].get(user.id, 0),
        wins=wins, deals=deals,
        quota_attainment=facts["won"].get(user.id, 0.0) / quota if quota > 0 else None)
