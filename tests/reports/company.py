"""A small company for report tests: two teams under two supervisors, reps always at work, and staff."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.db import session_scope
from evenhand.intake import flows as intake_flows
from evenhand.leads.schemas import LeadCreate
from evenhand.models import Department, Lead, LeadStatus, Leave, Presence, Region, Role, Team, User
from evenhand.routing import policy_versions
from tests.builders import make_user, token_for

POLICY = """
name: 测试策略
threshold_high_value: 80
pools:
  - id: east
    condition: 'lead.region == "east"'
    members: {regions: [east]}
  - id: south
    members: {regions: [south]}
"""


@dataclass
class Company:
    east: int = 0
    south: int = 0
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)


def build(engine: Engine) -> Company:
    """华东组 (reps wangfang, liming, zhaolei; supervisor boss_e) and 华南组 (rep sunli; supervisor boss_s)."""
    out = Company()
    with session_scope(engine) as session:
        dept = Department(code="smb", name="中小企业部")
        east, south = Region(code="east", name="华东"), Region(code="south", name="华南")
        session.add_all([dept, east, south])
        session.flush()
        teams = {"east": Team(name="华东组", department_id=dept.id, region_id=east.id),
                 "south": Team(name="华南组", department_id=dept.id, region_id=south.id)}
        session.add_all(teams.values())
        session.flush()
        out.east, out.south = teams["east"].id, teams["south"].id
        people = {}
        for username, name, team, region, role in (
                ("wangfang", "王芳", "east", east, Role.REP), ("liming", "李明", "east", east, Role.REP),
                ("zhaolei", "赵磊", "east", east, Role.REP), ("sunli", "孙丽", "south", south, Role.REP),
                ("boss_e", "东主管", "east", east, Role.SUPERVISOR),
                ("boss_s", "南主管", "south", south, Role.SUPERVISOR)):
            people[username] = make_user(session, username=username, display_name=name, role=role, team=teams[team],
                                         region_id=region.id, working_hours={},
                                         presence=Presence.ONLINE if role is Role.REP else Presence.OFFLINE)
        for username, role in (("ops", Role.OPS), ("auditor", Role.AUDITOR)):
            people[username] = make_user(session, username=username, role=role)
        teams["east"].supervisor_id, teams["south"].supervisor_id = people["boss_e"].id, people["boss_s"].id
        policy_versions.save(session, POLICY, author=None, note="test")
        out.users = {name: user.id for name, user in people.items()}
        out.tokens = {name: {"Authorization": f"Bearer {token_for(session, user)}"} for name, user in people.items()}
    return out


def intake(session: Session, n: int, region: str = "east", **fields: object) -> Lead:
    data = LeadCreate(source="website", external_id=f"R{n}", company=f"公司{n}", region=region, company_size=50,
                      **fields)  # type: ignore[arg-type]
    result, _ = intake_flows.take_in(session, [data], actor=None, dedup=[])[0]
    return result.lead


def history(session: Session, n: int, owner: int, at: datetime, score: int) -> Lead:
    """A lead handed out before routing existed: an owner and a time, no decision."""
    lead = Lead(source="import", external_id=f"H{n}", company=f"老客户{n}", owner_id=owner, assigned_at=at,
                status=LeadStatus.CONTACTED, score=score, created_at=at - timedelta(hours=1))
    session.add(lead)
    session.flush()
    return lead


def shanghai(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def march_history(engine: Engine, company: Company) -> None:
    """The hand-counted March of tests/reports/factory.py, in the database: zhaolei left on 03-10, liming on
    leave 03-05..06; plus one lead at 23:30 on 03-31 (March in Shanghai) and one at 00:30 on 04-01 (April)."""
    u = company.users
    with session_scope(engine) as session:
        zhao = session.get(User, u["zhaolei"])
        assert zhao is not None
        zhao.left_on = date(2026, 3, 10)
        session.add(Leave(user_id=u["liming"], starts_on=date(2026, 3, 5), ends_on=date(2026, 3, 6)))
        for n, (day, who, score) in enumerate([(2, "wangfang", 90), (5, "wangfang", 50), (20, "liming", 85),
                                               (20, "wangfang", 40)]):
            history(session, n, u[who], shanghai(date(2026, 3, day)), score)
        history(session, 10, u["wangfang"], shanghai(date(2026, 3, 31), 23, 30), 10)
        history(session, 11, u["wangfang"], shanghai(date(2026, 4, 1), 0, 30), 10)
        history(session, 12, u["sunli"], shanghai(date(2026, 3, 3)), 70)
