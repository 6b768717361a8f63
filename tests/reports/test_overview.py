"""The home page's figures on a hand-built company: what moved through the funnel this month and last, as each
reader reads it; the fairness headline; a rep's month so far; the company at a glance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.board import service as board
from evenhand.board.repository import Filters
from evenhand.db import session_scope
from evenhand.models import Lead, Stage, User
from evenhand.reports import overview, service
from evenhand.reports.monthly import Month, compute
from evenhand.routing.fairness import ChiSquare
from tests.builders import make_lead, make_opportunity
from tests.reports.company import Company, build, march_history, shanghai
from tests.reports.factory import inputs

ZONE = ZoneInfo("Asia/Shanghai")
NOW = shanghai(date(2026, 4, 15), 12)  # this month is April, the month before March


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return shanghai(date(2026, month, day), hour, minute)


def _principal(session: Session, company: Company, who: str) -> Principal:
    return principal_for(session, session.get_one(User, company.users[who]))


def _pipeline(session: Session, company: Company) -> None:
    """April: L1 went all the way; L2 was answered; L3 became a deal unanswered; L4 and M3 (00:30 on 1 April in
    Shanghai, still 31 March in UTC) nothing yet. March: M1 was answered and became a deal, won only in April; M2
    (23:30 on 31 March) was answered in April."""
    people = {name: session.get_one(User, company.users[name]) for name in ("wangfang", "sunli")}

    def lead(owner: str, created: datetime, answered: datetime | None = None) -> Lead:
        return make_lead(session, owner=people[owner], created_at=created, assigned_at=created,
                         first_response_at=answered)

    l1 = lead("wangfang", at(4, 2), at(4, 2, 11))
    make_opportunity(session, owner=people["wangfang"], lead=l1, stage=Stage.WON, created_at=at(4, 3),
                     closed_at=at(4, 10))
    lead("wangfang", at(4, 3), at(4, 3, 15))
    l3 = lead("wangfang", at(4, 5))
    make_opportunity(session, owner=people["wangfang"], lead=l3, created_at=at(4, 6))
    lead("sunli", at(4, 6))
    lead("sunli", at(4, 1, 0, 30))
    m1 = lead("wangfang", at(3, 10), at(3, 10, 12))
    make_opportunity(session, owner=people["wangfang"], lead=m1, stage=Stage.WON, created_at=at(3, 20),
                     closed_at=at(4, 2))
    lead("sunli", at(3, 31, 23, 30), at(4, 1, 9))


@pytest.fixture
def company(engine: Engine) -> Company:
    found = build(engine)
    with session_scope(engine) as session:
        _pipeline(session, found)
    return found


def test_the_funnel_counts_each_step_in_the_period_it_happened(engine: Engine, company: Company) -> None:
    with session_scope(engine, readonly=True) as session:
        ops = _principal(session, company, "ops")
        april = overview.funnel(session, ops, since=at(4, 1, 0), until=NOW)
        march = overview.funnel(session, ops, since=at(3, 1, 0), until=at(4, 1, 0))
    # L1, L2 and M2 (which arrived in March) were first contacted in April; M1 was won in April
    assert april == overview.Funnel(leads=5, contacted=3, deals=2, won=2)
    assert april.conversion() == [None, 3 / 5, 2 / 3, 1.0]
    assert march == overview.Funnel(leads=2, contacted=1, deals=1, won=0)


def test_a_supervisor_reads_the_funnel_of_their_team(engine: Engine, company: Company) -> None:
    with session_scope(engine, readonly=True) as session:
        east = overview.funnel(session, _principal(session, company, "boss_e"), since=at(4, 1, 0), until=NOW)
        rep = overview.funnel(session, _principal(session, company, "sunli"), since=at(4, 1, 0), until=NOW)
    assert east == overview.Funnel(leads=3, contacted=2, deals=2, won=2)
    assert rep == overview.Funnel(leads=2, contacted=1)
    assert overview.Funnel().conversion() == [None, None, None, None]


def test_the_company_at_a_glance_reads_each_domains_figures(engine: Engine, company: Company) -> None:
    with session_scope(engine, readonly=True) as session:
        ops = _principal(session, company, "ops")
        found = overview.overview(session, ops, zone=ZONE, now=NOW)
        period = board.period(ZONE, month="2026-04", now=NOW)
        first = board.first_response(session, ops, board.Query(period, Filters(), NOW))
    assert (found.month, found.previous) == ("2026-04", "2026-03")
    assert found.funnel == (overview.Funnel(5, 3, 2, 2), overview.Funnel(2, 1, 1, 0))
    assert found.response == (first["current"], first["previous"])
    assert found.response[0]["leads"] == 5 and found.response_hours == [1, 4, 24, 48, 168]
    assert found.routing == overview.RoutingHealth(0, None, (0, 0), (0, 0))
    assert [g.month for g in found.fairness] == ["2026-04", "2026-03"] and found.fairness[0].teams == 2
    assert found.alerts.total == 0


def test_the_fairness_headline_names_the_rep_furthest_from_the_policys_share() -> None:
    report = compute(inputs())  # 王芳 received 3 of 4 leads and was owed 1 5/6 of them
    glance = overview.glance(report)
    assert (glance.month, glance.teams, glance.tested, glance.flagged) == ("2026-03", 1, 0, [])
    assert glance.largest is not None and glance.largest.rep == "王芳"
    assert glance.largest.points == pytest.approx(100 * (3 / 4 - 11 / 24))
    differs = replace(report.teams[0], chi_square=ChiSquare(12.0, 2, 0.002, 3, 0))
    assert overview.glance(replace(report, teams=(differs,))).flagged == ["紫金组"]
    assert overview.glance(replace(report, teams=())).largest is None


def test_a_reps_month_so_far_is_their_line_of_the_teams_report(engine: Engine, company: Company) -> None:
    march_history(engine, company)
    with session_scope(engine, readonly=True) as session:
        rep = _principal(session, company, "wangfang")
        found = overview.month_so_far(session, rep, zone=ZONE, now=datetime(2026, 4, 1, 4, 0, tzinfo=UTC))
        report = service.build(session, month=Month(2026, 3), zone=ZONE, principal=rep, team_id=company.east)
        ops = overview.month_so_far(session, _principal(session, company, "ops"), zone=ZONE, now=NOW)
    assert found.month == "2026-04" and found.team_id == company.east
    assert found.previous == next(r for r in report.teams[0].reps if r.rep_id == company.users["wangfang"])
    # L1, L2, L3 and March's history's lead at 00:30 on 1 April; liming was at work each day, zhaolei had left
    line = found.line
    assert line is not None and (line.leads, line.expected, line.won, line.conversion_rate) == (4, 2.0, 1, 0.25)
    assert ops.line is None and ops.team_id is None
