"""A small company for the standards tests: two teams, deals moved through stages, activities captured through the
one ingest door, at fixed moments in Shanghai time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from evenhand.activities import service as activity_service
from evenhand.activities.schemas import ActivityCreate
from evenhand.models import Lead, Opportunity, Stage, StageChange, Team, User
from tests.builders import make_department, make_lead, make_opportunity, make_team, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # Friday 12:00 in Shanghai


def sh(day: str, clock: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Company:
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    leads: dict[str, Lead] = field(default_factory=dict)
    deals: dict[str, Opportunity] = field(default_factory=dict)


def _capture(session: Session, rows: list[dict[str, object]]) -> None:
    items = [ActivityCreate.model_validate({"direction": "outbound", "source_system": "crm", **row}) for row in rows]
    activity_service.capture_many(session, items)


def build(session: Session) -> Company:
    """North (wang, li) and South (zhao). In the week of 2026-11-09 (all times Shanghai):

    - lead A, assigned to wang Mon 09:00: call, e-mail, note the same day → first contact met;
    - lead B, assigned to li Mon 09:00: a call only → overdue; a call by wang (not the owner) does not count;
    - lead C, assigned to zhao Fri 17:00: nothing yet when judged Sat → open; e-mail Sun, call and note Mon 11:00
      count on time, as 48 h land on Sunday and move to Monday 17:00;
    - deal D (wang) entered needs_analysis Mon 10:00: meeting Tue, e-mail with attachment Wed → met;
    - deal E (li) entered needs_analysis Mon 10:00, left for proposal Tue 10:00 after only a visit → missed; its
      proposal entry then has an attached e-mail by zhao (a colleague) Wed → the e-mail half is met.
    """
    c = Company()
    dept = make_department(session, code="SALES", name="销售部")
    c.teams = {"north": make_team(session, department=dept, name="North"),
               "south": make_team(session, department=dept, name="South")}
    for name, team in (("wang", "north"), ("li", "north"), ("zhao", "south")):
        c.users[name] = make_user(session, username=name, team=c.teams[team], email=f"{name}@example.cn")
    for key, owner, at in (("A", "wang", sh("2026-11-09", "09:00")), ("B", "li", sh("2026-11-09", "09:00")),
                           ("C", "zhao", sh("2026-11-13", "17:00"))):
        c.leads[key] = make_lead(session, owner=c.users[owner], external_id=f"L-{key}", assigned_at=at,
                                 created_at=at)
    for key, owner in (("D", "wang"), ("E", "li")):
        deal = make_opportunity(session, owner=c.users[owner], lead=c.leads["A" if key == "D" else "B"],
                                external_id=f"O-{key}", source="crm", stage=Stage.NEEDS_ANALYSIS,
                                created_at=sh("2026-11-02"))
        c.deals[key] = deal
    session.flush()
    _stages(session, c)
    _activities(session, c)
    return c


def _stages(session: Session, c: Company) -> None:
    moves = [("D", None, Stage.QUALIFICATION, sh("2026-11-02")), ("D", Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS,
                                                                   sh("2026-11-09")),
             ("E", None, Stage.QUALIFICATION, sh("2026-11-02")), ("E", Stage.QUALIFICATION, Stage.NEEDS_ANALYSIS,
                                                                   sh("2026-11-09")),
             ("E", Stage.NEEDS_ANALYSIS, Stage.PROPOSAL, sh("2026-11-10"))]
    for key, before, after, at in moves:
        session.add(StageChange(opportunity_id=c.deals[key].id, from_stage=before, to_stage=after, changed_at=at))
    c.deals["E"].stage = Stage.PROPOSAL
    session.flush()


def _activities(session: Session, c: Company) -> None:
    def row(n: str, kind: str, rep: str, at: datetime, **more: object) -> dict[str, object]:
        return {"type": kind, "external_id": n, "rep": rep, "occurred_at": at.isoformat(), **more}

    _capture(session, [
        row("a1", "call", "wang", sh("2026-11-09", "09:30"), lead="L-A", answered=True, duration_seconds=300),
        row("a2", "email", "wang", sh("2026-11-09", "10:00"), lead="L-A", source_system="outlook"),
        row("a3", "note", "wang", sh("2026-11-09", "10:05"), lead="L-A"),
        row("b0", "call", "li", sh("2026-11-08", "10:00"), lead="L-B"),  # before the assignment
        row("b1", "call", "li", sh("2026-11-09", "11:00"), lead="L-B"),
        row("b2", "email", "wang", sh("2026-11-09", "12:00"), lead="L-B"),  # not the owner
        row("b3", "note", "wang", sh("2026-11-09", "12:05"), lead="L-B"),
        row("c1", "email", "zhao", sh("2026-11-15", "20:00"), lead="L-C"),
        row("c2", "call", "zhao", sh("2026-11-16", "11:00"), lead="L-C"),
        row("c3", "note", "zhao", sh("2026-11-16", "11:05"), lead="L-C"),
        row("d1", "meeting", "wang", sh("2026-11-10"), opportunity="O-D"),
        row("d2", "email", "wang", sh("2026-11-11"), opportunity="O-D", attachment_count=1),
        row("e1", "visit", "li", sh("2026-11-09", "15:00"), opportunity="O-E"),
        row("e2", "email", "zhao", sh("2026-11-11"), opportunity="O-E", attachment_count=2),
    ])
