"""Reading reps for a decision: narrowing in SQL finds exactly the members the pure membership check finds."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Engine

from evenhand.config import get_settings
from evenhand.db import session_scope
from evenhand.models import Level, Role
from evenhand.routing.availability import membership
from evenhand.routing.snapshot import rep_states
from tests.builders import make_department, make_region, make_team, make_user
from tests.routing.factory import NOW, lead, policy

POOLS = [
    {"id": "smb", "members": {"departments": ["smb"]}},
    {"id": "juniors", "members": {"departments": ["smb", "channel"], "levels": ["junior"]}},
    {"id": "named", "members": {"users": ["r1", "r4", "boss"], "teams": ["smb-east", "channel-east"]}},
    {"id": "east", "members": {"departments": ["smb"], "match_lead": ["region"]}},
    {"id": "skills", "members": {"skills": ["制造业"], "teams": ["smb-south"]}},
    {"id": "all"},
]


@pytest.mark.parametrize("pool_id", [p["id"] for p in POOLS])
def test_narrowing_in_sql_keeps_every_member_and_only_adds_those_named(engine: Engine, pool_id: str) -> None:
    compiled = policy([p for p in POOLS if p["id"] != "all"] + [{"id": "all"}])
    pool = compiled.pool(pool_id)
    snapshot = lead(region="east")
    with session_scope(engine) as session:
        east, south = make_region(session, code="east"), make_region(session, code="south")
        departments = {code: make_department(session, code=code) for code in ("smb", "channel", "key")}
        n = 0
        for (code, dept), region in itertools.product(departments.items(), (east, south)):
            team = make_team(session, department=dept, name=f"{code}-{region.code}", region=region)
            for level in (Level.JUNIOR, Level.SENIOR):
                n += 1
                make_user(session, username=f"r{n}", team=team, level=level, skills=["制造业"] if n % 3 else [])
        make_user(session, username="boss", role=Role.SUPERVISOR, team=None)
        make_user(session, username="ops", role=Role.OPS)
        also = [1, 2]  # named or excluded reps are read whatever the lists say
        zone = get_settings().zone

        def member(rep):  # type: ignore[no-untyped-def]
            return rep.id in also or not membership(rep, snapshot, pool)

        whole = rep_states(session, NOW, zone, high_value=80, members=member)
        narrowed = rep_states(session, NOW, zone, high_value=80, members=member, narrow_to=pool, also=also)
        read = {r.username for r in rep_states(session, NOW, zone, high_value=80, narrow_to=pool, also=also)}
    assert [r.username for r in narrowed] == [r.username for r in whole]
    assert narrowed == whole
    assert read >= {r.username for r in whole}
    if pool_id in ("smb", "juniors", "named"):  # lists SQL can check alone: nobody else is read
        assert read == {r.username for r in whole}
    assert len(read) < 13 or pool_id == "all"
