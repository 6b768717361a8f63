"""Typed builders with fixed defaults: the same calls in the same order give the same rows.

Unique values (codes, usernames, external ids) are numbered from the rows already in the table,
so they depend only on what the test itself built, never on other tests or on chance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evenhand.auth import service as auth_service
from evenhand.auth.passwords import hash_password
from evenhand.models import (
    Activity,
    ActivityType,
    Department,
    Direction,
    Lead,
    LeadStatus,
    Opportunity,
    Presence,
    ProductLine,
    Region,
    Role,
    SourceSystem,
    Stage,
    Team,
    User,
)
from evenhand.models.base import Base

T0 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"


@lru_cache
def hashed(password: str) -> str:
    """argon2 is slow on purpose; a test needs each password hashed once, not once per user."""
    return hash_password(password)


def _next(session: Session, model: type[Base]) -> int:
    session.flush()
    return (session.scalar(select(func.count()).select_from(model)) or 0) + 1


def _add(session: Session, obj: Any) -> Any:
    session.add(obj)
    session.flush()
    return obj


def make_department(session: Session, *, code: str | None = None, name: str | None = None) -> Department:
    n = _next(session, Department)
    return _add(session, Department(code=code or f"D{n}", name=name or f"销售{n}部"))


def make_region(session: Session, *, code: str | None = None, name: str | None = None) -> Region:
    n = _next(session, Region)
    return _add(session, Region(code=code or f"R{n}", name=name or f"Region {n}"))


def make_product_line(session: Session, *, code: str | None = None, name: str | None = None) -> ProductLine:
    n = _next(session, ProductLine)
    return _add(session, ProductLine(code=code or f"P{n}", name=name or f"Product {n}"))


def make_team(session: Session, *, department: Department | None = None, name: str | None = None,
              supervisor: User | None = None, region: Region | None = None) -> Team:
    n = _next(session, Team)
    department = department or make_department(session)
    return _add(session, Team(name=name or f"Team {n}", department_id=department.id,
                              supervisor_id=supervisor.id if supervisor else None,
                              region_id=region.id if region else None))


def make_user(session: Session, *, username: str | None = None, role: Role = Role.REP, team: Team | None = None,
              password: str | None = None, display_name: str | None = None, active: bool = True,
              **fields: Any) -> User:
    """A user; the password is hashed (slow, argon2) only when one is given."""
    n = _next(session, User)
    username = username or f"user{n}"
    return _add(session, User(username=username, display_name=display_name or username.replace("_", " ").title(),
                              role=role, team_id=team.id if team else None, active=active,
                              password_hash=hashed(password) if password else None, **fields))


def make_lead(session: Session, *, owner: User | None = None, source: str = "web", external_id: str | None = None,
              company: str = "Acme 有限公司", status: LeadStatus | None = None, **fields: Any) -> Lead:
    n = _next(session, Lead)
    status = status or (LeadStatus.ASSIGNED if owner else LeadStatus.NEW)
    return _add(session, Lead(source=source, external_id=external_id or f"L-{n}", company=f"{company} {n}",
                              owner_id=owner.id if owner else None, status=status,
                              created_at=fields.pop("created_at", T0 + timedelta(minutes=n)), **fields))


def make_opportunity(session: Session, *, owner: User, name: str | None = None, stage: Stage = Stage.QUALIFICATION,
                     amount: Decimal = Decimal("12000.00"), lead: Lead | None = None, **fields: Any) -> Opportunity:
    n = _next(session, Opportunity)
    return _add(session, Opportunity(name=name or f"Deal {n}", owner_id=owner.id, stage=stage, amount=amount,
                                     lead_id=lead.id if lead else None,
                                     created_at=fields.pop("created_at", T0 + timedelta(minutes=n)), **fields))


def make_activity(session: Session, *, rep: User, type: ActivityType = ActivityType.CALL,
                  direction: Direction = Direction.OUTBOUND, source_system: SourceSystem = SourceSystem.TELEPHONY,
                  external_id: str | None = None, lead: Lead | None = None, **fields: Any) -> Activity:
    n = _next(session, Activity)
    return _add(session, Activity(type=type, direction=direction, source_system=source_system,
                                  external_id=external_id or f"A-{n}", rep_id=rep.id,
                                  lead_id=lead.id if lead else None,
                                  occurred_at=fields.pop("occurred_at", T0 + timedelta(hours=n)), **fields))


def build_online_team(session: Session, *, reps: int, display_name: str = "rep{n}", reps_in_region: bool = False,
                      **fields: Any) -> list[User]:
    """Department smb (中小企业部), region east (华东) and its team 华东组 of reps rep0, rep1, … online and always
    within their hours (no working hours set), so routing may give any of them a lead at any moment.

    ``display_name`` is formatted with each rep's number; ``reps_in_region`` puts the reps in east as well as their
    team; ``fields`` are every rep's own (caps, quota)."""
    department = make_department(session, code="smb", name="中小企业部")
    east = make_region(session, code="east", name="华东")
    team = make_team(session, department=department, name="华东组", region=east)
    region_id = east.id if reps_in_region else None
    return [make_user(session, username=f"rep{n}", display_name=display_name.format(n=n), team=team,
                      region_id=region_id, presence=Presence.ONLINE, working_hours={}, **fields)
            for n in range(reps)]


def token_for(session: Session, user: User, role: Role | None = None) -> str:
    token, _ = auth_service.create_token(session, username=user.username, role=role or user.role)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the standard organisation -------------------------------------------------------------------

# Who owns records in the standard org, and whose records each person may read (by username).
RECORD_OWNERS = ("rep_n1", "rep_n2", "rep_s1", "rep_e1", "rep_e2", "rep_solo", "sup_a", "sup_b")


@dataclass
class Org:
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    region: Region | None = None
    leads: list[Lead] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def id(self, username: str) -> int:
        return self.users[username].id

    def headers(self, username: str) -> dict[str, str]:
        return bearer(self.tokens[username])

    def usernames(self, ids: set[int | None]) -> set[str | None]:
        by_id = {u.id: name for name, u in self.users.items()}
        return {by_id.get(i) if i is not None else None for i in ids}


def build_org(session: Session) -> Org:
    """Departments SALES and KA; teams north and south (supervisor A) and east (supervisor B).

    Every rep, both supervisors and a team-less rep own leads, opportunities and activities;
    one lead has no owner. Each user gets a bearer token for their own role.
    """
    org = Org()
    org.departments = {"sales": make_department(session, code="SALES", name="销售部"),
                       "ka": make_department(session, code="KA", name="大客户部")}
    org.region = make_region(session, code="EAST", name="华东")
    users = org.users
    for name, role in (("admin", Role.ADMIN), ("ops", Role.OPS), ("auditor", Role.AUDITOR),
                       ("sup_a", Role.SUPERVISOR), ("sup_b", Role.SUPERVISOR)):
        users[name] = make_user(session, username=name, role=role)
    org.teams = {
        "north": make_team(session, department=org.departments["sales"], name="North", supervisor=users["sup_a"],
                           region=org.region),
        "south": make_team(session, department=org.departments["sales"], name="South", supervisor=users["sup_a"]),
        "east": make_team(session, department=org.departments["ka"], name="East", supervisor=users["sup_b"]),
    }
    users["sup_a"].team_id = org.teams["north"].id
    users["sup_b"].team_id = org.teams["east"].id
    for name, team in (("rep_n1", "north"), ("rep_n2", "north"), ("rep_s1", "south"), ("rep_e1", "east"),
                       ("rep_e2", "east")):
        users[name] = make_user(session, username=name, team=org.teams[team])
    users["rep_solo"] = make_user(session, username="rep_solo")
    for owner in RECORD_OWNERS:
        org.leads.append(make_lead(session, owner=users[owner]))
        org.opportunities.append(make_opportunity(session, owner=users[owner], lead=org.leads[-1]))
        org.activities.append(make_activity(session, rep=users[owner], lead=org.leads[-1]))
    for owner in ("rep_n1", "rep_e1"):
        org.leads.append(make_lead(session, owner=users[owner]))
        org.activities.append(make_activity(session, rep=users[owner], type=ActivityType.EMAIL,
                                            source_system=SourceSystem.OUTLOOK))
    org.leads.append(make_lead(session, owner=None))
    org.tokens = {name: token_for(session, user) for name, user in users.items()}
    return org
