"""The metrics over evenhand's data (R3.1): who the reps are, every catalog metric per rep over a period, and the
targets set for it.

``measure`` reads each source table once for every rep (grouped in SQL through the driver's cursor; the leads'
response times as epoch seconds by the database, their median per rep in numpy) and compliance through the one
compliance service (``standards.service.figures``). A period's bounds are the organisation's local days
(``config.get_settings().zone``). A figure belongs to the contract's, deal's or lead's owner (``owner_id``), the
survey's and the complaint's ``rep_id``. Each ``Measure`` carries its raw figures in ``inputs`` so a frozen card can
explain itself.

A total or a count (cash collected, new contracts, revenue, effective visits, complaints) is known for every rep:
nothing in the period is 0. A mean, median, share or score with nothing behind it is ``None`` with sample 0."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import numpy as np
from sqlalchemy import ClauseElement, Connection, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.kit.clock import as_utc, utcnow
from evenhand.kit.cursor import epoch, plain_day, plain_time, rows
from evenhand.models import (
    Activity,
    Department,
    Lead,
    MetricTarget,
    Opportunity,
    ProductLine,
    Region,
    Role,
    StageChange,
    Team,
    User,
)
from evenhand.models.customer import Complaint, Contract, Payment, SurveyResponse
from evenhand.models.org import user_product_lines
from evenhand.performance.metrics import CATALOG, Measure
from evenhand.performance.period import Period
from evenhand.performance.template import RepFacts
from evenhand.standards import service as standards

# Compliance is read for the whole company (or one rep) by the system, never through a person's visibility.
SYSTEM = Principal(user_id=0, username="scorecards", display_name="scorecards", role=Role.AUDITOR, via="system")
VISITS = ("visit", "meeting")
PROPOSED = ("proposal", "negotiation", "won")  # a deal past needs analysis went on to a proposal
TOTALS = frozenset({"cash_collected", "new_contracts", "revenue", "effective_visits", "complaints"})
Measures = dict[int, dict[str, Measure]]


@dataclass(frozen=True)
class Span:
    """A period as the database compares it: UTC moments (local midnights) for times, the dates for dates."""

    period: Period
    since: datetime
    until: datetime
    now: datetime


def span(period: Period, *, now: datetime | None = None) -> Span:
    """The period from local midnight of its first day to local midnight after its last, in the organisation's
    zone: a payment at 23:30 local on the last day counts, one at 00:30 the next day does not."""
    zone = get_settings().zone
    since = datetime.combine(period.starts_on, time.min, tzinfo=zone).astimezone(UTC)
    until = datetime.combine(period.ends_on, time.min, tzinfo=zone).astimezone(UTC)
    return Span(period, since, until, as_utc(now or utcnow()))


# --- who the reps are ---------------------------------------------------------------------------------------------


def rep_facts(session: Session, user_ids: Collection[int] | None = None) -> dict[int, RepFacts]:
    """The facts that pick each rep's template: level, department code (their team's), region code (their own,
    else their team's), product line codes and monthly quota, for every active rep and every active supervisor who
    owns a deal (they carry leads too); among ``user_ids`` when given (the others carry no card)."""
    team, own, teams = aliased(Team), aliased(Region), aliased(Region)
    stmt = (select(User.id, User.level, Department.code, func.coalesce(own.code, teams.code), User.monthly_quota)
            .outerjoin(team, team.id == User.team_id).outerjoin(Department, Department.id == team.department_id)
            .outerjoin(own, own.id == User.region_id).outerjoin(teams, teams.id == team.region_id))
    stmt = stmt.where(_carries_leads())
    if user_ids is not None:
        stmt = stmt.where(User.id.in_(sorted(set(user_ids))))
    found = session.execute(stmt.order_by(User.id)).all()
    lines = _product_lines(session, [r[0] for r in found])
    return {i: RepFacts(i, level, department, region, frozenset(lines.get(i, ())), float(quota or 0))
            for i, level, department, region, quota in found}


def _carries_leads() -> Any:
    owns = exists().where(Opportunity.owner_id == User.id)
    return and_(User.active.is_(True), or_(User.role == Role.REP, and_(User.role == Role.SUPERVISOR, owns)))


def _product_lines(session: Session, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return found
    stmt = (select(user_product_lines.c.user_id, ProductLine.code)
            .join(ProductLine, ProductLine.id == user_product_lines.c.product_line_id)
            .where(user_product_lines.c.user_id.in_(ids)))
    for user_id, code in session.execute(stmt).tuples():
        found[user_id].append(code)
    return found


# --- targets ------------------------------------------------------------------------------------------------------


def targets(session: Session, period: Period, user_ids: Collection[int]) -> dict[int, dict[str, float]]:
    """Each rep's targets for the period, metric by metric: the rep's own, else their team's, else the company's.
    A rep without any target set is left out (the template's target applies)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    team_of = dict(session.execute(select(User.id, User.team_id).where(User.id.in_(ids))).tuples().all())
    set_for: dict[tuple[str, int | None, int | None], float] = {
        (metric, team_id, user_id): value for metric, team_id, user_id, value in session.execute(
            select(MetricTarget.metric, MetricTarget.team_id, MetricTarget.user_id, MetricTarget.value)
            .where(MetricTarget.period == period.key))}
    found: dict[int, dict[str, float]] = {}
    for user_id in ids:
        mine = _resolved(set_for, user_id, team_of.get(user_id))
        if mine:
            found[user_id] = mine
    return found


def _resolved(set_for: dict[tuple[str, int | None, int | None], float], user_id: int, team_id: int | None
              ) -> dict[str, float]:
    resolved: dict[str, float] = {}
    for scope in ((None, None), (team_id, None), (None, user_id)):  # company, team, rep: the more specific wins
        resolved.update({m: v for (m, t, u), v in set_for.items() if (t, u) == scope})
    return resolved


def target_rows(session: Session, period: Period) -> list[tuple[str, str | None, str | None, float]]:
    """The targets set for a period as (metric, team name, rep username, value), company-wide first."""
    stmt = (select(MetricTarget.metric, Team.name, User.username, MetricTarget.value)
            .outerjoin(Team, Team.id == MetricTarget.team_id).outerjoin(User, User.id == MetricTarget.user_id)
            .where(MetricTarget.period == period.key)
            .order_by(MetricTarget.metric, case((MetricTarget.user_id.is_not(None), 2),
                                                (MetricTarget.team_id.is_not(None), 1), else_=0),
                      Team.name, User.username))
    return [(m, t, u, float(v)) for m, t, u, v in session.execute(stmt)]


# --- the metrics --------------------------------------------------------------------------------------------------


def measure(session: Session, period: Period, user_ids: Collection[int] | None = None, *,
            now: datetime | None = None) -> Measures:
    """Every catalog metric for every rep (``rep_facts`` without ``user_ids``), one statement per source table.
    ``now`` (default: the clock) is when compliance is judged and up to when an unanswered lead has waited."""
    ids = sorted(set(user_ids)) if user_ids is not None else sorted(rep_facts(session))
    measures: Measures = {i: {} for i in ids}
    if not ids:
        return measures
    bounds = span(period, now=now)
    conn = session.connection()
    for source in (_payments, _contracts, _won, _proposals, _visits, _responses, _surveys, _complaints):
        _merge(measures, source(conn, bounds, ids))
    _merge(measures, _compliance(session, bounds, ids))
    for mine in measures.values():
        mine.update({key: _nothing(key) for key in CATALOG if key not in mine})
    return measures


def _nothing(key: str) -> Measure:
    if key == "complaints":
        return Measure(0.0, 1, {"complaints": 0})
    return Measure(0.0, 0, {}) if key in TOTALS else Measure(None, 0, {})


def _merge(into: Measures, found: Measures) -> None:
    for user_id, mine in found.items():
        if user_id in into:
            into[user_id].update(mine)


def _per_rep(conn: Connection, stmt: ClauseElement, build: Callable[..., dict[str, Measure]]) -> Measures:
    """Rows grouped by rep (the first column) turned into that rep's measures."""
    return {row[0]: build(*row[1:]) for row in rows(conn, stmt)}


def _payments(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """回款额: payments received in the period on the contracts the rep owns."""
    stmt = (select(Contract.owner_id, func.sum(Payment.amount), func.count())
            .join(Contract, Contract.id == Payment.contract_id)
            .where(_within(conn, Payment.received_at, s), Contract.owner_id.in_(ids)).group_by(Contract.owner_id))
    return _per_rep(conn, stmt, lambda total, n: {"cash_collected": Measure(
        _money(total), n, {"sum": _money(total), "payments": n})})


def _contracts(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """Contracts signed in the period (new ones counted, every one's value summed), and those ending in it whose
    outcome is known (renewed or not): one pass over the rep's contracts."""
    signed = _within(conn, Contract.signed_at, s)
    ending = and_(Contract.ends_on >= plain_day(conn, s.period.starts_on),
                  Contract.ends_on < plain_day(conn, s.period.ends_on))
    new = and_(signed, Contract.kind == "new")
    renewal = and_(signed, Contract.kind == "renewal")
    stmt = (select(Contract.owner_id, _count(new), _sum(new, Contract.amount), _count(renewal),
                   _sum(renewal, Contract.amount), _count(and_(ending, Contract.renewed.is_not(None))),
                   _count(and_(ending, Contract.renewed.is_(True))), _count(and_(ending, Contract.renewed.is_(None))))
            .where(or_(signed, ending), Contract.owner_id.in_(ids)).group_by(Contract.owner_id))
    return _per_rep(conn, stmt, _contract_measures)


def _contract_measures(new: int, new_sum: Any, renewals: int, renewal_sum: Any, known: int, renewed: int,
                       unknown: int) -> dict[str, Measure]:
    value = _money(new_sum) + _money(renewal_sum)
    return {"new_contracts": Measure(float(new), new, {"contracts": new, "sum": _money(new_sum)}),
            "revenue": Measure(round(value, 2), new + renewals, {
                "sum": round(value, 2), "contracts": new + renewals, "new_sum": _money(new_sum),
                "renewal_sum": _money(renewal_sum), "new": new, "renewals": renewals}),
            "renewal_rate": Measure(_share(renewed, known), known, {
                "renewed": renewed, "ending": known, "unknown": unknown})}


def _won(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """Mean discount (%) on the deals won (closed as won) in the period."""
    stmt = (select(Opportunity.owner_id, func.count(), func.sum(Opportunity.discount_pct))
            .where(Opportunity.stage == "won", _within(conn, Opportunity.closed_at, s), Opportunity.owner_id.in_(ids))
            .group_by(Opportunity.owner_id))
    return _per_rep(conn, stmt, lambda n, total: {"discount": Measure(
        round(float(total) / n, 2) if n else None, n, {"won": n, "sum_pct": round(float(total or 0), 2)})})


def _proposals(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """Deals whose first entry into needs analysis falls in the period, and how many of them later moved to a
    proposal or beyond (negotiation, won), up to now."""
    entered = (select(StageChange.opportunity_id.label("deal"), func.min(StageChange.changed_at).label("at"))
               .where(StageChange.to_stage == "needs_analysis").group_by(StageChange.opportunity_id).subquery())
    later = aliased(StageChange)
    went_on = exists().where(later.opportunity_id == entered.c.deal, later.to_stage.in_(PROPOSED),
                             later.changed_at >= entered.c.at)
    stmt = (select(Opportunity.owner_id, func.count(), _count(went_on))
            .join(entered, entered.c.deal == Opportunity.id)
            .where(entered.c.at >= plain_time(conn, s.since), entered.c.at < plain_time(conn, s.until),
                   Opportunity.owner_id.in_(ids)).group_by(Opportunity.owner_id))
    return _per_rep(conn, stmt, lambda n, on: {"proposal_rate": Measure(
        _share(on, n), n, {"needs_analysis": n, "proposal": on})})


def _visits(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """Visits and meetings with customers (not internal) held in the period."""
    stmt = (select(Activity.rep_id, _count(Activity.type == "visit"), _count(Activity.type == "meeting"))
            .where(Activity.rep_id.in_(ids), _within(conn, Activity.occurred_at, s), Activity.type.in_(VISITS),
                   Activity.direction != "internal").group_by(Activity.rep_id))
    return _per_rep(conn, stmt, lambda visits, meetings: {"effective_visits": Measure(
        float(visits + meetings), visits + meetings, {"visits": visits, "meetings": meetings})})


def _responses(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """Median hours from a lead's assignment (in the period) to its first response: the recorded one, else its
    owner's first captured outbound contact since the assignment (as the board counts it). A lead still unanswered
    counts the hours it has waited until now, so leaving a lead never looks faster than answering it."""
    first = (select(func.min(Activity.occurred_at)).where(
        Activity.lead_id == Lead.id, Activity.rep_id + 0 == Lead.owner_id, Activity.direction == "outbound",
        Activity.type != "note", Activity.source_system != "crm", Activity.occurred_at >= Lead.assigned_at)
        .correlate(Lead).scalar_subquery())
    answered = func.coalesce(Lead.first_response_at, first)
    stmt = (select(Lead.owner_id, epoch(conn, "leads.assigned_at"), epoch(conn, answered))
            .where(_within(conn, Lead.assigned_at, s), Lead.owner_id.in_(ids)))
    table = np.array([(o, a, -1 if r is None else r) for o, a, r in rows(conn, stmt)], np.int64).reshape(-1, 3)
    return _medians(table, int(s.now.timestamp()))


def _medians(table: np.ndarray, now: int) -> Measures:
    owner, assigned, answered = table[:, 0], table[:, 1], table[:, 2]
    waiting = answered < 0
    hours = (np.where(waiting, np.maximum(now, assigned), answered) - assigned) / 3600
    reps, index = np.unique(owner, return_inverse=True)
    found: Measures = {}
    for n, rep in enumerate(reps.tolist()):
        mine = index == n
        median, count, unanswered = round(float(np.median(hours[mine])), 2), int(mine.sum()), int(waiting[mine].sum())
        found[rep] = {"first_response": Measure(median, count, {
            "leads": count, "answered": count - unanswered, "waiting": unanswered, "median_hours": median})}
    return found


def _surveys(conn: Connection, s: Span, ids: list[int]) -> Measures:
    """CSAT: the mean score (1–5); NPS: promoters (9–10) minus detractors (0–6), in points of the responses."""
    csat, nps = SurveyResponse.kind == "csat", SurveyResponse.kind == "nps"
    stmt = (select(SurveyResponse.rep_id, _count(csat), _sum(csat, SurveyResponse.score), _count(nps),
                   _count(and_(nps, SurveyResponse.score >= 9)), _count(and_(nps, SurveyResponse.score <= 6)))
            .where(SurveyResponse.rep_id.in_(ids), _within(conn, SurveyResponse.responded_at, s))
            .group_by(SurveyResponse.rep_id))
    return _per_rep(conn, stmt, _survey_measures)


def _survey_measures(csat: int, csat_sum: Any, nps: int, promoters: int, detractors: int) -> dict[str, Measure]:
    total = int(csat_sum or 0)
    return {"csat": Measure(round(total / csat, 2) if csat else None, csat, {"responses": csat, "sum": total}),
            "nps": Measure(round(100 * (promoters - detractors) / nps, 1) if nps else None, nps, {
                "responses": nps, "promoters": promoters, "passives": nps - promoters - detractors,
                "detractors": detractors})}


def _complaints(conn: Connection, s: Span, ids: list[int]) -> Measures:
    stmt = (select(Complaint.rep_id, func.count()).where(Complaint.rep_id.in_(ids),
                                                         _within(conn, Complaint.received_at, s))
            .group_by(Complaint.rep_id))
    return _per_rep(conn, stmt, lambda n: {"complaints": Measure(float(n), max(n, 1), {"complaints": n})})


def _compliance(session: Session, s: Span, ids: list[int]) -> Measures:
    """The share of stage-standard checks (first contacts, stage entries) started in the period and judged by now
    that were met on time, as the compliance service counts them."""
    one = ids[0] if len(ids) == 1 else None
    figures = standards.figures(session, SYSTEM, since=s.since, until=s.until, now=s.now, rep_id=one)
    return {r["rep_id"]: {"compliance": Measure(
        round(100 * r["share_on_time"], 2) if r["share_on_time"] is not None else None, r["judged"],
        {k: r[k] for k in ("entries", "judged", "met", "late", "overdue", "missed", "open")})}
        for r in figures["reps"]}


# --- statements ---------------------------------------------------------------------------------------------------


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _sum(condition: Any, column: Any) -> Any:
    return func.sum(case((condition, column), else_=0))


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


def _within(conn: Connection, column: Any, s: Span) -> Any:
    return and_(column >= plain_time(conn, s.since), column < plain_time(conn, s.until))


