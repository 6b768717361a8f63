"""A small company for the alert tests, written row by row.

- Team Alpha (supervisor wang): reps chen and zhang. Team Beta (supervisor zhao): rep liu. Sales ops li, auditor
  shen, admin root.
- ``NOW`` is a Wednesday; every record's times are set relative to it, so the rules' thresholds are crossed (or
  not) by a margin of hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evenhand.activities import service as activities
from evenhand.activities.schemas import ActivityCreate
from evenhand.auth.principal import Principal
from evenhand.db import session_scope
from evenhand.kit.clock import frozen
from evenhand.models import ActivityType, Direction, Lead, LeadStatus, Opportunity, Role, SourceSystem, Stage, User
from tests.builders import make_activity, make_department, make_team, make_user

NOW = datetime(2026, 4, 8, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
DAY = timedelta(days=1)


@dataclass
class Company:
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)

    def id(self, name: str) -> int:
        return self.users[name].id

    def principal(self, name: str) -> Principal:
        user = self.users[name]
        supervised = frozenset(team for team, sup in self.supervisors.items() if sup == user.id)
        return Principal(user.id, user.username, user.display_name, user.role, user.team_id, supervised)

    supervisors: dict[int, int] = field(default_factory=dict)  # team id → supervisor id


def build(session: Session) -> Company:
    company = Company()
    dept = make_department(session, code="SALES", name="销售部")
    for name, role in (("wang", Role.SUPERVISOR), ("zhao", Role.SUPERVISOR), ("li", Role.OPS),
                       ("shen", Role.AUDITOR), ("root", Role.ADMIN)):
        company.users[name] = make_user(session, username=name, role=role)
    for team_name, sup, reps in (("Alpha", "wang", ("chen", "zhang")), ("Beta", "zhao", ("liu",))):
        team = make_team(session, department=dept, name=team_name, supervisor=company.users[sup])
        company.teams[team_name], company.supervisors[team.id] = team.id, company.users[sup].id
        company.users[sup].team_id = team.id
        for rep in reps:
            company.users[rep] = make_user(session, username=rep, team=team)
    session.flush()
    return company


def deal(session: Session, company: Company, rep: str, *, stage: Stage = Stage.PROPOSAL, age: timedelta = 20 * DAY,
         key: str | None = None) -> Opportunity:
    """An open deal in ``stage`` since it was created ``age`` before ``NOW`` (no stage history)."""
    row = Opportunity(name=f"{rep} 的商机 {key or ''}".strip(), owner_id=company.id(rep), stage=stage,
                      created_at=NOW - age, external_id=key, source="crm" if key else None)
    session.add(row)
    session.flush()
    return row


def lead(session: Session, company: Company, rep: str, *, assigned: timedelta, key: str | None = None) -> Lead:
    """A lead assigned to ``rep`` ``assigned`` before ``NOW``."""
    row = Lead(source="web", external_id=key or f"L-{rep}-{assigned.total_seconds():.0f}", company=f"{rep} 客户",
               owner_id=company.id(rep), status=LeadStatus.ASSIGNED, created_at=NOW - assigned - timedelta(minutes=5),
               assigned_at=NOW - assigned)
    session.add(row)
    session.flush()
    return row


def act(session: Session, company: Company, rep: str, *, ago: timedelta, type: ActivityType = ActivityType.CALL,
        direction: Direction = Direction.OUTBOUND, **fields: Any) -> None:
    make_activity(session, rep=company.users[rep], type=type, direction=direction, occurred_at=NOW - ago, **fields)
    session.flush()


def capture(engine: Engine, rows: Sequence[dict[str, Any]], *, at: datetime = NOW + timedelta(minutes=10)) -> None:
    """Through the one door every activity comes in by, in a transaction of its own (its hooks judge the alerts as
    it commits), the clock standing at ``at``."""
    with frozen(at), session_scope(engine) as session:
        activities.capture_many(session, [ActivityCreate.model_validate(
            {"source_system": SourceSystem.TELEPHONY, "direction": "outbound", "type": "call", **r}) for r in rows])
