"""The board on hand-built pipelines in the database (SQLite and PostgreSQL): the same figures as the pure core,
who sees what, the filters, the deals behind a figure, and a change showing on the next read."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.service import principal_for
from evenhand.board import figures as core
from evenhand.board import repository, service
from evenhand.board.figures import Facts
from evenhand.board.repository import Filters
from evenhand.db import session_scope
from evenhand.errors import Invalid
from evenhand.models import Lead, Opportunity, Stage, StageChange, User
from evenhand.standards import service as standards
from tests.board.conftest import NOW, PERIOD, Company, day, query
from tests.builders import make_activity, make_opportunity


def _principal(session: Session, company: Company, who: str) -> Principal:
    return principal_for(session, session.get_one(User, company.users[who]))


def board(engine: Engine, company: Company, who: str, filters: Filters | None = None) -> dict:
    with session_scope(engine, readonly=True) as session:
        principal = _principal(session, company, who)
        return service.board(session, principal, query(filters))


def test_the_figures_are_the_cores_on_the_stored_pipeline(engine: Engine, company: Company) -> None:
    now = board(engine, company, "ops")["overall"]["current"]
    assert now["time_in_stage"]["needs_analysis"] == {"count": 2, "median": 4.0, "p90": 4.8}
    assert now["conversion"]["qualification"] == {"entered": 2, "advanced": 1, "lost": 0, "open": 1, "rate": 0.5}
    assert now["conversion"]["needs_analysis"]["entered"] == 1  # A once; B skipped it
    assert now["stuck"]["needs_analysis"] == [0, 0, 0, 1, 0] and now["stuck"]["qualification"] == [1, 0, 0, 0, 0]
    assert now["cycle"] == {"count": 1, "median": 35.0, "p90": 35.0}
    # the note, the inbound message and the colleague's call are no response
    assert now["first_response"]["buckets"] == [1, 1, 0, 0, 0, 0, 2]


def test_the_previous_period_is_read_as_it_stood_when_it_closed(engine: Engine, company: Company) -> None:
    before = board(engine, company, "ops")["overall"]["previous"]
    assert before["stuck"]["qualification"] == [0, 1, 0, 0, 0] and before["stuck"]["needs_analysis"] == [1, 0, 0, 0, 0]
    assert before["first_response"]["buckets"] == [1, 0, 0, 0, 0, 0, 0]


def test_a_rep_sees_their_own_figures_and_no_team_rows(engine: Engine, company: Company) -> None:
    mine = board(engine, company, "rep1")
    assert mine["teams"] == [] and [r["rep"] for r in mine["reps"]] == ["Rep1"]
    assert mine["overall"]["current"]["stuck"]["needs_analysis"] == [0] * 5  # C is rep 3's
    assert mine["overall"]["current"]["conversion"]["qualification"]["entered"] == 1


def test_a_supervisor_sees_their_team_and_staff_see_every_team(engine: Engine, company: Company) -> None:
    theirs = board(engine, company, "sup")
    assert [t["team"] for t in theirs["teams"]] == ["North"]
    everyone = board(engine, company, "ops")
    assert [t["team"] for t in everyone["teams"]] == ["North", "South"]
    south = everyone["teams"][1]["current"]
    assert south["stuck"]["needs_analysis"] == [0, 0, 0, 1, 0] and south["cycle"]["count"] == 0


def test_filters_by_team_region_and_product_line(engine: Engine, company: Company) -> None:
    with session_scope(engine, readonly=True) as session:
        by_region = service.filters(session, region=company.region)
        by_product = service.filters(session, product_line=company.product.upper())
        with pytest.raises(Invalid) as refused:
            service.filters(session, region="nowhere")
    assert refused.value.field == "region"
    south = board(engine, company, "ops", Filters(team_id=company.teams["South"]))
    assert [r["rep"] for r in south["reps"]] == ["Rep3"]
    assert [r["rep"] for r in board(engine, company, "ops", by_region)["reps"]] == ["Rep1"]
    assert board(engine, company, "ops", by_product)["overall"]["current"]["cycle"]["count"] == 1
    assert board(engine, company, "ops", by_product)["overall"]["current"]["first_response"]["leads"] == 0


def drill(engine: Engine, company: Company, who: str, what: service.Drill, filters: Filters | None = None) -> dict:
    with session_scope(engine, readonly=True) as session:
        return service.drill(session, _principal(session, company, who), query(filters), what)


def test_drilling_gives_the_deals_and_leads_behind_a_figure(engine: Engine, company: Company) -> None:
    names = lambda found: sorted(i.get("name") or i["company"] for i in found["items"])  # noqa: E731
    assert names(drill(engine, company, "ops", service.Drill("stuck", "needs_analysis", 3))) == ["Deal C"]
    assert names(drill(engine, company, "ops", service.Drill("conversion", "proposal", outcome="lost"))) == ["Deal B"]
    assert names(drill(engine, company, "ops", service.Drill("cycle"))) == ["Deal A"]
    timed = drill(engine, company, "ops", service.Drill("time_in_stage", "needs_analysis"))
    assert [i["days"] for i in timed["items"]] == [5.0, 3.0]  # A's two visits, longest first
    before = drill(engine, company, "ops", service.Drill("stuck", "qualification", previous=True))
    assert names(before) == ["Deal A"]
    leads = drill(engine, company, "ops", service.Drill("first_response", bucket=6))
    assert leads["kind"] == "leads" and {i["id"] for i in leads["items"]} == {company.leads[2], company.leads[3]}
    assert drill(engine, company, "rep1", service.Drill("stuck", "needs_analysis"))["items"] == []  # not theirs


def test_an_unknown_figure_or_stage_is_refused_naming_the_field(engine: Engine, company: Company) -> None:
    for what, field in ((service.Drill("speed"), "figure"), (service.Drill("stuck", "won"), "stage"),
                        (service.Drill("conversion", outcome="maybe"), "outcome")):
        with pytest.raises(Invalid) as refused:
            drill(engine, company, "ops", what)
        assert refused.value.field == field


def test_a_new_stage_change_shows_on_the_next_read(engine: Engine, company: Company) -> None:
    assert board(engine, company, "ops")["overall"]["current"]["stuck"]["needs_analysis"] == [0, 0, 0, 1, 0]
    with session_scope(engine) as session:
        session.add(StageChange(opportunity_id=company.deals["C"], from_stage=Stage.NEEDS_ANALYSIS,
                                to_stage=Stage.PROPOSAL, changed_at=day(39)))
        session.get_one(Opportunity, company.deals["C"]).stage = Stage.PROPOSAL
    after = board(engine, company, "ops")["overall"]["current"]
    assert after["stuck"]["needs_analysis"] == [0] * 5 and after["stuck"]["proposal"] == [1, 0, 0, 0, 0]
    assert after["time_in_stage"]["needs_analysis"]["count"] == 3  # C's 31 days there ended in the period


def test_a_deal_without_history_stands_in_its_stage_since_it_last_moved(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        owner = session.get_one(User, company.users["rep3"])
        make_opportunity(session, owner=owner, stage=Stage.PROPOSAL, created_at=day(1), stage_changed_at=day(25))
    assert board(engine, company, "ops")["overall"]["current"]["stuck"]["proposal"] == [0, 0, 1, 0, 0]  # 15 days


def test_compliance_is_the_standards_own_figures(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        principal = _principal(session, company, "ops")
        found = service.compliance(session, principal, query())
        same = standards.figures(session, principal, since=PERIOD.since, until=PERIOD.until, now=PERIOD.until)
        before = standards.figures(session, principal, since=PERIOD.previous_since, until=PERIOD.since,
                                   now=PERIOD.until)
    assert found["current"] == same and found["previous"] == before
    assert found["current"]["overall"]["entries"] > 0


def test_periods_a_month_is_compared_with_the_month_before() -> None:
    from zoneinfo import ZoneInfo
    zone = ZoneInfo("Asia/Shanghai")
    month = service.period(zone, month="2026-03", now=NOW)
    assert (month.since.day, month.until.month, month.previous_since.month) == (1, 4, 2)
    days = service.period(zone, first=NOW.date() - timedelta(days=9), last=NOW.date(), now=NOW)
    assert days.since - days.previous_since == timedelta(days=10)
    for bad, field in (({"month": "2026-13"}, "period"), ({"first": NOW.date(), "last": NOW.date() - timedelta(1)},
                                                           "from")):
        with pytest.raises(Invalid) as refused:
            service.period(zone, now=NOW, **bad)
        assert refused.value.field == field


def test_each_team_and_rep_row_is_the_board_narrowed_to_them(engine: Engine, company: Company) -> None:
    """The rows computed for every group in one pass equal the board read again for that team or rep alone."""
    everyone = board(engine, company, "ops")
    for row in everyone["reps"]:
        alone = board(engine, company, "ops", Filters(rep_id=row["rep_id"]))["overall"]
        assert {k: row[k] for k in ("current", "previous")} == alone, row["rep"]
    for row in everyone["teams"]:
        alone = board(engine, company, "ops", Filters(team_id=row["team_id"]))["overall"]
        assert {k: row[k] for k in ("current", "previous")} == alone, row["team"]


def test_a_captured_call_shows_as_a_first_response_on_the_next_read(engine: Engine, company: Company) -> None:
    assert board(engine, company, "ops")["overall"]["current"]["first_response"]["buckets"][6] == 2
    with session_scope(engine) as session:
        lead = session.get_one(Lead, company.leads[2])
        make_activity(session, rep=session.get_one(User, company.users["rep1"]), lead=lead,
                      occurred_at=day(12) + timedelta(hours=30))
    after = board(engine, company, "ops")["overall"]["current"]["first_response"]
    assert after["buckets"] == [1, 1, 0, 1, 0, 0, 1]  # lead 2 answered in 30 hours


def test_leaving_out_deals_closed_before_the_periods_changes_no_figure(engine: Engine, company: Company) -> None:
    """The read skips deals closed before the period before began (deal F, won on day -30); reading every deal gives
    the same figures."""
    with session_scope(engine, readonly=True) as session:
        readable = repository.readable_deals(_principal(session, company, "ops"))
        narrow = repository.pipeline(session, readable, Filters(), since=PERIOD.previous_since)
        every = repository.pipeline(session, readable, Filters(), since=day(-1000))
        found = repository.leads(session, repository.readable_leads(_principal(session, company, "ops")), Filters(),
                                 since=PERIOD.previous_since, until=PERIOD.until)[0]
    assert company.deals["F"] not in narrow.deals.id.tolist() and company.deals["F"] in every.deals.id.tolist()
    for window in PERIOD.windows(NOW):
        blocks = [core.block(p.visits, Facts.of(p.deals, p.visits, found, window), np.ones(len(p.deals.id), bool),
                             np.ones(len(found.id), bool)) for p in (narrow, every)]
        assert blocks[0] == blocks[1]
