"""The home page's follow-ups: a rep's own open leads and deals whose current standard misses an action due by the end
of their day or overdue, read through the one compliance service, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine

from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.models import Lead, LeadStatus, Opportunity, Role, Stage
from evenhand.standards import service
from tests.standards.company import NOW, Company, build, sh


@pytest.fixture
def company(engine: Engine) -> Company:
    with session_scope(engine) as session:
        return build(session)


def rep(c: Company, name: str) -> Principal:
    user = c.users[name]
    return Principal(user_id=user.id, username=name, display_name=name, role=Role.REP, team_id=user.team_id)


def due(engine: Engine, who: Principal, at: datetime) -> list[service.FollowUp]:
    with session_scope(engine) as session:
        return service.follow_ups(session, who, now=at)


def test_overdue_first_contacts_and_stages_with_what_is_missing(engine: Engine, company: Company) -> None:
    found = due(engine, rep(company, "li"), NOW)
    assert {(f.kind, f.record_id) for f in found} == {("lead", company.leads["B"].id), ("deal", company.deals["E"].id)}
    assert all(f.result.status.value == "overdue" for f in found)
    assert [f.result.deadline for f in found] == sorted((f.result.deadline for f in found), reverse=True)
    lead = next(f for f in found if f.kind == "lead")
    assert lead.result.stage == "first_contact" and lead.name == company.leads["B"].company
    assert [r.actions[0].type for r in lead.missing] == ["email", "note"]  # the call was made; wang's work is not li's
    deal = next(f for f in found if f.kind == "deal")
    assert (deal.result.stage, deal.name) == ("proposal", company.deals["E"].name)


def test_met_standards_and_other_peoples_records_are_not_listed(engine: Engine, company: Company) -> None:
    assert due(engine, rep(company, "wang"), NOW) == []  # lead A and deal D met
    supervisor = Principal(user_id=company.users["wang"].id, username="wang", display_name="wang",
                           role=Role.SUPERVISOR, supervised_team_ids=frozenset({company.teams["north"].id}))
    assert due(engine, supervisor, NOW) == []  # li's overdue lead is in his team, but not his to follow up


def test_an_open_standard_is_due_today_only_on_its_last_day(engine: Engine, company: Company) -> None:
    zhao = rep(company, "zhao")
    assert due(engine, zhao, sh("2026-11-14", "12:00")) == []  # Saturday: the deadline is Monday 17:00
    (monday,) = due(engine, zhao, sh("2026-11-16", "10:00"))
    assert (monday.kind, monday.result.status.value, monday.result.deadline) == (
        "lead", "open", sh("2026-11-16", "17:00"))
    assert [r.actions[0].type for r in monday.missing] == ["call", "note"]  # Sunday's e-mail counts


def test_closed_leads_and_deals_leave_the_list(engine: Engine, company: Company) -> None:
    with session_scope(engine) as session:
        lead = session.get(Lead, company.leads["B"].id)
        deal = session.get(Opportunity, company.deals["E"].id)
        assert lead is not None and deal is not None
        lead.status, lead.closed_at = LeadStatus.DISQUALIFIED, utcnow()
        deal.stage = Stage.LOST
    assert due(engine, rep(company, "li"), NOW) == []
