"""A hand-built company for the board: the pipeline of ``test_figures`` written as rows (deals A and B owned by
rep 1 of team North, C, D and E by rep 3 of team South), rep 1's leads with their first contacts, and noise that
must not count (a CRM note, an inbound message, a colleague's call)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from evenhand.board import service
from evenhand.board.repository import Filters
from evenhand.db import session_scope
from evenhand.models import ActivityType, Direction, Role, SourceSystem, Stage, StageChange
from tests.board.test_figures import LEADS, PIPELINE
from tests.builders import (
    make_activity,
    make_lead,
    make_opportunity,
    make_product_line,
    make_region,
    make_team,
    make_user,
    token_for,
)

T0 = datetime(2026, 6, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=50)
STAGE = list(Stage)
PERIOD = service.Period(since=T0 + timedelta(days=10), until=T0 + timedelta(days=40),
                        previous_since=T0 - timedelta(days=20))


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


@dataclass
class Company:
    users: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    leads: dict[int, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    product: str = ""
    region: str = ""


def query(filters: Filters | None = None) -> service.Query:
    return service.Query(PERIOD, filters or Filters(), NOW)


@pytest.fixture
def company(engine: Engine) -> Company:
    out = Company()
    with session_scope(engine) as session:
        region, product = make_region(session, code="north", name="华北"), make_product_line(session, code="crm")
        out.region, out.product = region.code, product.code
        sup = make_user(session, username="sup", role=Role.SUPERVISOR)
        north = make_team(session, name="North", supervisor=sup, region=region)
        south = make_team(session, name="South")
        people = {"rep1": make_user(session, username="rep1", team=north),
                  "rep3": make_user(session, username="rep3", team=south),
                  "ops": make_user(session, username="ops", role=Role.OPS), "sup": sup}
        owner = {"A": "rep1", "B": "rep1", "C": "rep3", "D": "rep3", "E": "rep3", "F": "rep1"}
        for name, (arrived, steps) in sorted(PIPELINE.items()):
            lead = make_lead(session, owner=people[owner[name]], created_at=day(arrived))
            deal = make_opportunity(session, owner=people[owner[name]], name=f"Deal {name}", lead=lead,
                                    stage=STAGE[steps[-1][0]], created_at=day(steps[0][1]),
                                    product_line_id=product.id if name in "AB" else None)
            session.add_all([StageChange(opportunity_id=deal.id, from_stage=STAGE[a[0]] if a else None,
                                         to_stage=STAGE[s], changed_at=day(d))
                             for a, (s, d) in zip([None, *steps], steps, strict=False)])
            out.deals[name] = deal.id
        for n, (assigned, hours) in sorted(LEADS.items()):
            lead = make_lead(session, owner=people["rep1"], assigned_at=day(assigned), created_at=day(assigned))
            out.leads[n] = lead.id
            make_activity(session, rep=people["rep1"], lead=lead, type=ActivityType.NOTE, direction=Direction.INTERNAL,
                          source_system=SourceSystem.CRM, occurred_at=day(assigned) + timedelta(minutes=1))
            make_activity(session, rep=people["rep1"], lead=lead, type=ActivityType.MESSAGE,
                          direction=Direction.INBOUND, source_system=SourceSystem.WECOM,
                          occurred_at=day(assigned) + timedelta(minutes=2))
            make_activity(session, rep=people["rep3"], lead=lead, occurred_at=day(assigned) + timedelta(minutes=3))
            if hours is not None:
                make_activity(session, rep=people["rep1"], lead=lead,
                              occurred_at=day(assigned) + timedelta(hours=hours))
        session.flush()
        out.users = {k: u.id for k, u in people.items()}
        out.teams = {"North": north.id, "South": south.id}
        out.tokens = {k: token_for(session, u) for k, u in people.items()}
    return out
