"""A routed organisation for the intake benches: the shipped default policy's departments and regions,
15 teams of 8 reps (all online, no working-hours limit, caps out of the way), and two months of
history — assigned leads and closed deals — so the routing counts walk real indexes."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from evenhand.db import make_engine, refresh_statistics, session_scope
from evenhand.intake import flows as intake_flows
from evenhand.kit.clock import utcnow
from evenhand.leads import keys
from evenhand.leads.schemas import LeadCreate
from evenhand.migrate import upgrade
from evenhand.models import Department, Lead, LeadStatus, Level, Opportunity, Presence, Region, Role, Stage, Team, User

DEPARTMENTS = ("key_accounts", "smb", "channel")
REGIONS = ("east", "south", "north", "central", "southwest")
REPS_PER_TEAM = 8
HISTORY_LEADS = 20_000
HISTORY_DEALS = 3_000
SEED = 20261127


def lead_payload(n: int) -> dict[str, object]:
    """A web-form lead; about one in five is large enough for the key-account pool."""
    return {"source": "website", "external_id": f"bench-{n}", "company": f"华东智能制造{n}有限公司",
            "contact_name": "李雷", "email": f"buyer{n}@corp{n}.cn", "phone": f"139{n:08d}", "title": "采购经理",
            "industry": "制造业", "region": REGIONS[n % 5], "company_size": 50 + (n * 37) % 400}


def take_one(engine: Engine, lead: LeadCreate) -> None:
    """One lead taken in and routed in a transaction of its own, as ``POST /api/v1/leads`` does for a group of one;
    it must find a rep."""
    with session_scope(engine) as session:
        [(_, decision)] = intake_flows.take_in(session, [lead], actor=None, dedup=["email", "phone"])
        assert decision is not None and decision.rep_id is not None


def build(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    rnd = random.Random(SEED)
    now = utcnow()
    with session_scope(engine) as session:
        depts = [Department(code=c, name=c) for c in DEPARTMENTS]
        regions = [Region(code=c, name=c) for c in REGIONS]
        session.add_all([*depts, *regions])
        session.flush()
        teams = [Team(name=f"{d.code}-{r.code}", department_id=d.id, region_id=r.id) for d in depts for r in regions]
        session.add_all(teams)
        session.flush()
        session.add(User(username="forms", display_name="官网表单", role=Role.OPS))
        reps = [User(username=f"rep{t.id}-{i}", display_name=f"销售{t.id}-{i}", role=Role.REP, team_id=t.id,
                     level=Level.JUNIOR if i < 2 else Level.SENIOR, presence=Presence.ONLINE, working_hours={},
                     max_open_leads=100_000, daily_lead_cap=100_000, monthly_quota=Decimal(500_000))
                for t in teams for i in range(REPS_PER_TEAM)]
        session.add_all(reps)
        session.flush()
        ids = [r.id for r in reps]
        leads = []
        for n in range(HISTORY_LEADS):
            at = now - timedelta(minutes=rnd.randint(10, 60 * 24 * 60))
            p = lead_payload(10_000_000 + n)
            leads.append({**p, "owner_id": rnd.choice(ids), "assigned_at": at, "created_at": at,
                          "status": rnd.choice([LeadStatus.ASSIGNED, LeadStatus.CONTACTED, LeadStatus.CONVERTED]),
                          "score": rnd.randint(10, 99), "email_key": keys.email_key(str(p["email"])),
                          "phone_key": keys.phone_key(str(p["phone"])),
                          "company_key": keys.company_key(str(p["company"]))})
        session.execute(insert(Lead), leads)
        deals = [{"name": f"deal{n}", "owner_id": rnd.choice(ids), "amount": Decimal(rnd.randint(10, 500) * 1000),
                  "stage": rnd.choice([Stage.WON, Stage.LOST, Stage.LOST]),
                  "closed_at": now - timedelta(days=rnd.randint(0, 120))} for n in range(HISTORY_DEALS)]
        session.execute(insert(Opportunity), deals)
    refresh_statistics(engine)  # as an import does: measured as it runs once autovacuum has seen the history
    return engine
