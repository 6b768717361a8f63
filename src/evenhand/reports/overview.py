"""The home page's figures: the company at a glance for sales ops and the head of sales, and a rep's month so far.
Each figure is read through its domain's service, as the principal reads it; the period is this month so far (in
the company's zone) beside last month.

- **Funnel**: what moved through the pipeline in the period: leads that arrived, leads first contacted (their
  first response), deals opened and deals won — each counted when it happened, so a lead that arrived last month
  and was contacted this month counts in this month's contacts. Each step's conversion is its count over the step
  before (a deal's cycle is longer than a month, so the leads of one month are seldom won in it: following one
  month's leads would show nothing won).
- **First response**: the board's (``board.service.first_response``): leads assigned in the period, to the owner's first
  captured outbound contact.
- **Routing health**: the leads in the holding queue now, and the share of notification copies delivered over the
  last 24 hours and over the month (``notify.health.delivery``).
- **Fairness at a glance**: the month's fairness report per team: whether its chi-square test finds the leads
  distributed otherwise than the policy expects, and the rep furthest from the share the policy meant them to have.
- **Alerts by team**: ``alerts.service.counts_by_team``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_
from sqlalchemy.orm import Session

from evenhand.alerts import service as alerts
from evenhand.auth.principal import Principal
from evenhand.board import service as board
from evenhand.board.repository import Filters
from evenhand.kit.clock import as_utc, utcnow
from evenhand.leads import repository as lead_repo
from evenhand.models import Lead, Opportunity, Stage
from evenhand.notify import health
from evenhand.opportunities import repository as deal_repo
from evenhand.reports import service
from evenhand.reports.monthly import FairnessReport, Month, RepLine
from evenhand.routing import holds

DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Funnel:
    leads: int = 0
    contacted: int = 0
    deals: int = 0
    won: int = 0

    @property
    def steps(self) -> tuple[int, int, int, int]:
        return self.leads, self.contacted, self.deals, self.won

    def conversion(self) -> list[float | None]:
        """Each step's count over the step before it (the first: None)."""
        return [None, *(_ratio(b, a) for a, b in pairwise(self.steps))]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def funnel(session: Session, principal: Principal, *, since: datetime, until: datetime) -> Funnel:
    """What moved through the pipeline in [since, until) among the records the principal reads (see the module)."""
    start, end = as_utc(since), as_utc(until)

    def count(column: Any, *more: Any) -> Any:
        return func.coalesce(func.sum(case((and_(column >= start, column < end, *more), 1), else_=0)), 0)

    leads = lead_repo.readable(principal).with_only_columns(count(Lead.created_at), count(Lead.first_response_at)
                                                             ).where(or_(Lead.created_at >= start,
                                                                         Lead.first_response_at >= start))
    deals = deal_repo.readable(principal).with_only_columns(
        count(Opportunity.created_at), count(Opportunity.closed_at, Opportunity.stage == Stage.WON)).where(
        or_(Opportunity.created_at >= start, Opportunity.closed_at >= start))
    counts: list[Any] = [*session.execute(leads).one(), *session.execute(deals).one()]
    return Funnel(*(int(n) for n in counts))


# --- the company at a glance --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingHealth:
    held: int  # leads in the holding queue now
    held_since: datetime | None  # the oldest's arrival in the queue
    day: tuple[int, int]  # (delivered, with an outcome) over the last 24 hours
    month: tuple[int, int]  # the same over this month so far

    @staticmethod
    def rate(pair: tuple[int, int]) -> float | None:
        return _ratio(*pair)


@dataclass(frozen=True)
class Deviation:
    team_id: int
    team: str
    rep: str
    points: float  # actual share − expected share, in percentage points


@dataclass(frozen=True)
class FairnessGlance:
    month: str  # YYYY-MM
    teams: int
    tested: int  # teams with enough leads for the chi-square test
    flagged: list[str]  # the teams whose test finds a difference (p < 0.05)
    largest: Deviation | None  # the rep furthest from the policy's share, in any team


@dataclass(frozen=True)
class Overview:
    month: str  # YYYY-MM
    previous: str
    funnel: tuple[Funnel, Funnel]  # this month so far, last month
    response: tuple[dict[str, Any], dict[str, Any]]  # the board's first response, this month and last
    response_hours: list[int]  # the edges of the first response buckets
    routing: RoutingHealth
    fairness: tuple[FairnessGlance, FairnessGlance]
    alerts: alerts.AlertCounts


def overview(session: Session, principal: Principal, *, zone: ZoneInfo, now: datetime | None = None) -> Overview:
    """The company at a glance as the principal reads it (sales ops and the head of sales read every team)."""
    now = as_utc(now or utcnow())
    month = Month.of(now.astimezone(zone).date())
    period = board.period(zone, month=month.label, now=now)
    first = board.first_response(session, principal, board.Query(period, Filters(), now))
    flows = (funnel(session, principal, since=period.since, until=min(period.until, now)),
             funnel(session, principal, since=period.previous_since, until=period.since))
    reports = [service.build(session, month=m, zone=zone, principal=principal, now=now)
               for m in (month, month.previous())]
    return Overview(month.label, month.previous().label, flows, (first["current"], first["previous"]),
                    list(first["response_hours"]), routing_health(session, since=period.since, now=now),
                    (glance(reports[0]), glance(reports[1])), alerts.counts_by_team(session, principal, now=now))


def routing_health(session: Session, *, since: datetime, now: datetime) -> RoutingHealth:
    held = holds.held_leads(session)
    return RoutingHealth(len(held), held[0].held_since if held else None,
                         health.delivery(session, since=now - DAY, until=now), health.delivery(session, since=since,
                                                                                              until=now))


def glance(report: FairnessReport) -> FairnessGlance:
    """The report's headline: which teams the test flags, and the largest gap between a rep's share and the share
    the policy meant them to have."""
    gaps = [Deviation(team.id, team.name, line.name, 100 * (line.actual_share - line.expected_share))
            for team in report.teams for line in team.reps
            if line.actual_share is not None and line.expected_share is not None]
    return FairnessGlance(report.month.label, len(report.teams),
                          sum(team.chi_square is not None for team in report.teams),
                          [team.name for team in report.teams if team.verdict == "differs"],
                          max(gaps, key=lambda d: abs(d.points)) if gaps else None)


# --- a rep's month so far -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthSoFar:
    month: str  # YYYY-MM
    team_id: int | None
    line: RepLine | None  # the rep's line of their team's fairness report this month (None: not in it)
    previous: RepLine | None  # last month's


def month_so_far(session: Session, principal: Principal, *, zone: ZoneInfo,
                 now: datetime | None = None) -> MonthSoFar:
    """The rep's leads received this month beside the share the routing policy meant them to have, and their
    conversion so far: their own line of their team's fairness report (the report reps read), with last month's."""
    now = as_utc(now or utcnow())
    month = Month.of(now.astimezone(zone).date())
    if principal.team_id is None:
        return MonthSoFar(month.label, None, None, None)

    def line(which: Month) -> RepLine | None:
        report = service.build(session, month=which, zone=zone, principal=principal, team_id=principal.team_id,
                               now=now)
        return next((r for t in report.teams for r in t.reps if r.rep_id == principal.user_id), None)

    return MonthSoFar(month.label, principal.team_id, line(month), line(month.previous()))
