"""The board in brief on the home page: the board's own figures for everything read (``overall``), and a team's
month so far beside the month before (``brief``): where its open deals are stuck, first response, compliance."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.board import service
from evenhand.board.repository import Filters
from evenhand.db import session_scope
from evenhand.models import User
from tests.board.conftest import NOW, Company, query

UTC = ZoneInfo("UTC")  # NOW is 21 July 2026: this month is July, the month before June


def _principal(session: Session, company: Company, who: str) -> Principal:
    return principal_for(session, session.get_one(User, company.users[who]))


def test_overall_and_first_response_are_the_boards_own_for_each_reader(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        for who, filters in (("ops", None), ("sup", None), ("rep1", None), ("ops", Filters(team_id=company.teams[
                "South"]))):
            principal = _principal(session, company, who)
            found = service.overall(session, principal, query(filters))
            assert found["overall"] == service.board(session, principal, query(filters))["overall"]
            first = service.first_response(session, principal, query(filters))
            assert (first["current"], first["previous"]) == tuple(found["overall"][p]["first_response"]
                                                                  for p in ("current", "previous"))


def test_a_teams_brief_names_the_stage_where_deals_are_stuck(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        south = service.brief(session, _principal(session, company, "ops"), team_id=company.teams["South"],
                              zone=UTC, now=NOW)
    assert south.month == "2026-07"
    # C has stood in needs analysis since day 8 (42 days); D and E moved 5 days ago
    assert south.open_deals == {"qualification": 1, "needs_analysis": 1, "proposal": 0, "negotiation": 1}
    assert south.stuck == {"qualification": 0, "needs_analysis": 1, "proposal": 0, "negotiation": 0}
    assert south.bottleneck == "needs_analysis"


def test_first_response_this_month_beside_last_month_as_it_closed(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        sup = _principal(session, company, "sup")
        north = service.brief(session, sup, team_id=company.teams["North"], zone=UTC, now=NOW)
        shares = service.compliance(session, sup, service.Query(service.period(UTC, month="2026-07", now=NOW),
                                                                Filters(team_id=company.teams["North"]), NOW))
    assert north.bottleneck is None and sum(north.open_deals.values()) == 0  # A and F won, B lost
    now, before = north.first_response
    assert (now["leads"], now["median"]) == (1, 0.25)  # lead 5, assigned 1 July
    # June: leads 1–4; lead 3 was answered only after June closed, lead 2 never
    assert (before["leads"], before["count"], before["median"], before["p90"]) == (4, 2, 1.25, 1.85)
    assert north.compliance == (shares["current"]["overall"]["share_on_time"],
                                shares["previous"]["overall"]["share_on_time"])


def test_a_supervisor_reads_no_other_teams_brief(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        other = service.brief(session, _principal(session, company, "sup"), team_id=company.teams["South"],
                              zone=UTC, now=NOW)
    assert sum(other.open_deals.values()) == 0 and other.first_response[1]["leads"] == 0
