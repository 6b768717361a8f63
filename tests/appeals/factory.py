"""A small routed company for appeal and reassignment tests: fixed people, fixed policy, real routing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from evenhand.appeals import service as appeal_service
from evenhand.appeals.schemas import AppealCreate, Ruling
from evenhand.auth.principal import Principal
from evenhand.auth.service import create_token
from evenhand.db import session_scope
from evenhand.kit.clock import utcnow
from evenhand.leads import service as lead_service
from evenhand.leads.schemas import LeadCreate
from evenhand.models import (
    Appeal,
    AuditEntry,
    Department,
    Lead,
    Notification,
    Presence,
    Region,
    Role,
    RoutingDecision,
    User,
)
from evenhand.models import Team as TeamRow
from evenhand.routing import policy_versions, router
from tests.builders import make_user

# East leads go to the east team; everything else to the south team. No working-hours rule, so the
# tests do not depend on the hour they run at.
POLICY = """
name: 测试策略
availability: {working_hours: false}
pools:
  - id: east
    condition: 'lead.region == "east"'
    members: {regions: [east]}
  - id: rest
    members: {regions: [south]}
"""
WINDOW = timedelta(minutes=120)


@dataclass
class Company:
    ids: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def build(session: Session) -> Company:
    """Reps a, b, c (east team, online), s (south team, online); boss supervises east, boss2 south;
    ops, admin and an auditor. Everyone gets a token for their role."""
    dept = Department(code="smb", name="中小企业部")
    east, south = Region(code="east", name="华东"), Region(code="south", name="华南")
    session.add_all([dept, east, south])
    session.flush()
    out = Company()
    people: dict[str, User] = {}
    for name, role in (("boss", Role.SUPERVISOR), ("boss2", Role.SUPERVISOR), ("ops", Role.OPS),
                       ("admin", Role.ADMIN), ("auditor", Role.AUDITOR)):
        people[name] = make_user(session, username=name, display_name=name.upper(), role=role)
    teams = {"east": TeamRow(name="华东组", department_id=dept.id, region_id=east.id, supervisor_id=people["boss"].id),
             "south": TeamRow(name="华南组", department_id=dept.id, region_id=south.id,
                              supervisor_id=people["boss2"].id)}
    session.add_all(teams.values())
    session.flush()
    for name, team in (("a", "east"), ("b", "east"), ("c", "east"), ("s", "south")):
        people[name] = make_user(session, username=f"rep_{name}", display_name=name.upper(), team=teams[team],
                                 presence=Presence.ONLINE, working_hours={})
    people["boss"].team_id, people["boss2"].team_id = teams["east"].id, teams["south"].id
    policy_versions.save(session, POLICY, author=None, note="test")
    session.flush()
    out.ids = {name: user.id for name, user in people.items()}
    out.teams = {name: team.id for name, team in teams.items()}
    out.tokens = {name: create_token(session, username=user.username, role=user.role)[0]
                  for name, user in people.items()}
    return out


def principal(session: Session, name: str, company: Company) -> Principal:
    from evenhand.auth.service import from_api_token

    found = from_api_token(session, company.tokens[name])
    assert found is not None
    return found


def routed_lead(session: Session, n: int, *, region: str = "east", **fields: Any) -> tuple[Lead, RoutingDecision]:
    data = LeadCreate(source="website", external_id=f"L{n}", company=f"公司{n}", region=region, company_size=50,
                      **fields)
    lead = lead_service.intake(session, data, actor=None, dedup=[]).lead
    return lead, router.route(session, lead)


def lead_to(engine: Engine, company: Company, name: str, n: int = 1) -> tuple[int, int]:
    """A routed east lead that went to ``name``: (lead id, decision id). Others are set away meanwhile."""
    with session_scope(engine) as session:
        others = [i for who, i in company.ids.items() if who in ("a", "b", "c") and who != name]
        session.execute(update(User).where(User.id.in_(others)).values(presence=Presence.AWAY))
        lead, decision = routed_lead(session, n)
        assert decision.rep_id == company.ids[name]
        session.execute(update(User).where(User.id.in_(others)).values(presence=Presence.ONLINE))
        return lead.id, decision.id


def file(engine: Engine, company: Company, who: str, decision_id: int, **fields: object) -> int:
    data = AppealCreate.model_validate({"decision_id": decision_id, "reason_code": "wrong_industry",
                                        "reason": "是经销商，不是制造企业"} | fields)
    with session_scope(engine) as session:
        return appeal_service.file(session, data, actor=principal(session, who, company), window=WINDOW).id


def rule(engine: Engine, company: Company, who: str, appeal_id: int, **fields: object) -> Appeal:
    with session_scope(engine) as session:
        appeal = appeal_service.rule(session, appeal_id, Ruling.model_validate(fields),
                              actor=principal(session, who, company))
        session.expunge(appeal)
        return appeal


def age_decision(engine: Engine, decision_id: int, minutes: int) -> None:
    with session_scope(engine) as session:
        session.execute(update(RoutingDecision).where(RoutingDecision.id == decision_id)
                        .values(created_at=utcnow() - timedelta(minutes=minutes)))


def inbox(engine: Engine, user_id: int) -> list[tuple[str, str]]:
    """(kind, title) of the in-app messages a user received, oldest first."""
    from evenhand.models import Channel

    with session_scope(engine, readonly=True) as session:
        return [(n.kind, n.title) for n in session.scalars(
            select(Notification).where(Notification.recipient_id == user_id, Notification.channel == Channel.IN_APP)
            .order_by(Notification.id))]


def actions(engine: Engine, after: int = 0) -> list[str]:
    with session_scope(engine, readonly=True) as session:
        return [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.seq > after)
                                                  .order_by(AuditEntry.seq))]


def last_seq(engine: Engine) -> int:
    with session_scope(engine, readonly=True) as session:
        return session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)) or 0
