"""A small company for the metrics, written as rows: two departments with a team each, four reps of both levels, a
supervisor who owns a deal, and September 2026's contracts, payments, deals, visits, leads, surveys and
complaints around the month's edges (times are local, Asia/Shanghai).

What September should measure, rep by rep, is stated beside the rows that make it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session

from evenhand.models import (
    Activity,
    ActivityType,
    Direction,
    Lead,
    LeadStatus,
    Level,
    Opportunity,
    ProductLine,
    Role,
    SourceSystem,
    Stage,
    StageChange,
)
from evenhand.models.customer import Account, Complaint, Contract, ContractKind, Payment, SurveyKind, SurveyResponse
from evenhand.models.org import user_product_lines
from tests.builders import make_department, make_region, make_team, make_user

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 10, 5, 12, 0, tzinfo=ZONE)  # when September is measured


def at(text: str) -> datetime:
    """A local time ``2026-09-30 23:30`` as an aware moment."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


# (owner, kind, amount, signed, ends_on, renewed)
CONTRACTS = [
    ("zhang", "new", 100000, "2026-09-10 10:00", "2027-09-09", None),  # C0: Sept, new
    ("zhang", "renewal", 50000, "2026-09-30 23:30", "2027-09-29", None),  # C1: Sept's last half hour
    ("zhang", "new", 70000, "2026-10-01 00:30", "2027-09-30", None),  # C2: October already
    ("li", "new", 20000, "2026-08-15 09:00", "2027-08-14", None),  # C3: August (Q3, not Sept)
    ("zhang", "new", 10000, "2025-09-15 09:00", "2026-09-15", True),  # C4: ends in Sept, renewed
    ("zhang", "new", 10000, "2025-09-20 09:00", "2026-09-20", False),  # C5: ends in Sept, lost
    ("zhang", "new", 10000, "2025-09-30 09:00", "2026-09-30", None),  # C6: ends in Sept, not known yet
    ("zhang", "new", 10000, "2025-10-01 09:00", "2026-10-01", True),  # C7: ends in October
]
# (contract index, amount, received)
PAYMENTS = [
    (0, 30000, "2026-09-30 23:30"),  # counts: the last local half hour of September
    (0, 40000, "2026-10-01 00:30"),  # does not: October in Shanghai (still Sept 30 in UTC)
    (0, 10000, "2026-09-01 00:00"),  # counts: the first local moment
    (0, 5000, "2026-08-31 23:59"),  # August: in Q3 only
    (3, 20000, "2026-08-20 10:00"),  # li's, August
]
# (owner, discount %, closed) for deals won; a lost one and an October win do not count
WON = [("zhang", 10, "2026-09-03 10:00"), ("zhang", 20, "2026-09-13 10:00"), ("zhang", 30, "2026-09-23 10:00"),
       ("zhang", 50, "2026-10-02 10:00")]
LOST = [("zhang", 90, "2026-09-05 10:00")]
# (owner, [(to_stage, at)]) stage histories for the proposal rate
HISTORIES = [
    ("zhang", [("qualification", "2026-09-01 09:00"), ("needs_analysis", "2026-09-05 09:00"),
               ("proposal", "2026-09-10 09:00")]),  # Sept, went on
    ("zhang", [("needs_analysis", "2026-09-06 09:00"), ("negotiation", "2026-10-03 09:00")]),  # went on, later
    ("zhang", [("needs_analysis", "2026-09-07 09:00")]),  # Sept, stuck
    ("zhang", [("needs_analysis", "2026-08-01 09:00"), ("proposal", "2026-08-03 09:00"),
               ("needs_analysis", "2026-09-08 09:00")]),  # first entered in August
]
# (rep, type, direction, at)
VISITS = [("wang", "visit", "outbound", "2026-09-03 10:00"), ("wang", "meeting", "inbound", "2026-09-04 10:00"),
          ("wang", "meeting", "internal", "2026-09-05 10:00"), ("wang", "call", "outbound", "2026-09-06 10:00"),
          ("wang", "visit", "outbound", "2026-10-01 00:30")]
# li's leads: (assigned, hours to the recorded first response or None); the 6-hour one answered by a call only
LEADS = [("2026-09-02 09:00", 1), ("2026-09-03 09:00", 2), ("2026-09-04 09:00", 3), ("2026-09-07 09:00", 4),
         ("2026-09-08 09:00", 10), ("2026-09-09 09:00", None), ("2026-09-30 12:00", None),
         ("2026-08-28 09:00", 100)]
ANSWERED_BY_CALL = 5  # the lead (index) whose first response is li's outbound call 6 hours after assignment
# (rep, kind, score, at)
SURVEYS = [("wang", "csat", 5, "2026-09-02 10:00"), ("wang", "csat", 4, "2026-09-12 10:00"),
           ("wang", "csat", 3, "2026-09-22 10:00"), ("wang", "csat", 1, "2026-10-01 00:30"),
           ("wang", "nps", 10, "2026-09-02 10:00"), ("wang", "nps", 9, "2026-09-03 10:00"),
           ("wang", "nps", 9, "2026-09-04 10:00"), ("wang", "nps", 8, "2026-09-05 10:00"),
           ("wang", "nps", 3, "2026-09-06 10:00")]
COMPLAINTS = [("wang", "2026-09-10 10:00"), ("wang", "2026-09-30 23:30"), ("wang", "2026-08-10 10:00")]


@dataclass
class Company:
    ids: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    lead_ids: list[int] = field(default_factory=list)


def build(session: Session) -> Company:
    company = Company()
    _people(session, company)
    account = Account(name="华东客户")
    session.add(account)
    session.flush()
    _contracts(session, company, account.id)
    _deals(session, company)
    _activities_and_leads(session, company)
    _voice(session, company, account.id)
    session.flush()
    return company


def _people(session: Session, company: Company) -> None:
    east, north, south = (make_region(session, code=c, name=c.title()) for c in ("east", "north", "south"))
    ka, smb = make_department(session, code="key_accounts", name="大客户部"), make_department(session, code="smb")
    alpha = make_team(session, department=ka, name="Alpha", region=east)
    beta = make_team(session, department=smb, name="Beta", region=north)
    cloud = ProductLine(code="sales_cloud", name="Sales Cloud")
    session.add(cloud)
    people = [("zhang", Role.REP, alpha, Level.SENIOR, south.id, 100000),
              ("li", Role.REP, alpha, Level.JUNIOR, None, 0), ("wang", Role.REP, beta, Level.SENIOR, None, 80000),
              ("zhao", Role.REP, beta, Level.JUNIOR, None, 0), ("sun", Role.SUPERVISOR, beta, Level.SENIOR, None, 0),
              ("qian", Role.SUPERVISOR, alpha, Level.SENIOR, None, 0)]
    for name, role, team, level, region, quota in people:
        company.ids[name] = make_user(session, username=name, role=role, team=team, level=level, region_id=region,
                                      monthly_quota=Decimal(quota), external_id=f"HR-{name}").id
    company.ids["gone"] = make_user(session, username="gone", team=alpha, active=False).id
    company.ids["admin"] = make_user(session, username="admin", role=Role.ADMIN).id
    session.flush()
    session.execute(insert(user_product_lines).values(user_id=company.ids["zhang"], product_line_id=cloud.id))
    company.teams = {"Alpha": alpha.id, "Beta": beta.id}


def _contracts(session: Session, company: Company, account_id: int) -> None:
    contracts = [Contract(account_id=account_id, owner_id=company.ids[o], kind=ContractKind(k), amount=Decimal(a),
                          signed_at=at(s), starts_on=at(s).date(), ends_on=date.fromisoformat(e), renewed=r)
                 for o, k, a, s, e, r in CONTRACTS]
    session.add_all(contracts)
    session.flush()
    session.add_all(Payment(contract_id=contracts[i].id, amount=Decimal(a), received_at=at(t)) for i, a, t in PAYMENTS)


def _deals(session: Session, company: Company) -> None:
    for stage, rows in ((Stage.WON, WON), (Stage.LOST, LOST)):
        session.add_all(Opportunity(name=f"{stage} {t}", owner_id=company.ids[o], stage=stage, discount_pct=Decimal(d),
                                    closed_at=at(t), stage_changed_at=at(t)) for o, d, t in rows)
    session.add(Opportunity(name="sun's own", owner_id=company.ids["sun"]))
    for owner, history in HISTORIES:
        deal = Opportunity(name=f"history {history[0][1]}", owner_id=company.ids[owner], stage=Stage(history[-1][0]))
        session.add(deal)
        session.flush()
        previous: Stage | None = None
        for name, when in history:
            session.add(StageChange(opportunity_id=deal.id, from_stage=previous, to_stage=Stage(name),
                                    changed_at=at(when)))
            previous = Stage(name)


def _activities_and_leads(session: Session, company: Company) -> None:
    for n, (rep, kind, direction, when) in enumerate(VISITS):
        session.add(_activity(company.ids[rep], kind, direction, at(when), f"V-{n}"))
    li = company.ids["li"]
    for n, (assigned, hours) in enumerate(LEADS):
        lead = Lead(source="web", external_id=f"L-{n}", company=f"客户 {n}", owner_id=li, status=LeadStatus.ASSIGNED,
                    assigned_at=at(assigned), created_at=at(assigned) - timedelta(minutes=5),
                    first_response_at=at(assigned) + timedelta(hours=hours) if hours is not None else None)
        session.add(lead)
        session.flush()
        company.lead_ids.append(lead.id)
    session.add(_activity(li, "call", "outbound", at(LEADS[ANSWERED_BY_CALL][0]) + timedelta(hours=6), "R-call",
                          lead_id=company.lead_ids[ANSWERED_BY_CALL]))
    session.add(_activity(li, "note", "outbound", at(LEADS[ANSWERED_BY_CALL][0]) + timedelta(hours=1), "R-note",
                          lead_id=company.lead_ids[ANSWERED_BY_CALL], source_system="crm"))  # a note is no response
    for n, kind in enumerate(("call", "email", "note")):  # the first lead's first contact met in full, in time
        session.add(_activity(li, kind, "outbound", at(LEADS[0][0]) + timedelta(hours=2 + n), f"M-{n}",
                              lead_id=company.lead_ids[0]))


def _activity(rep_id: int, kind: str, direction: str, when: datetime, external_id: str, *, lead_id: int | None = None,
              source_system: str = "wecom") -> Activity:
    return Activity(type=ActivityType(kind), direction=Direction(direction), source_system=SourceSystem(source_system),
                    external_id=external_id, rep_id=rep_id, lead_id=lead_id, occurred_at=when, answered=True,
                    duration_seconds=300)


def _voice(session: Session, company: Company, account_id: int) -> None:
    session.add_all(SurveyResponse(account_id=account_id, rep_id=company.ids[r], kind=SurveyKind(k), score=s,
                                   responded_at=at(t)) for r, k, s, t in SURVEYS)
    session.add_all(Complaint(account_id=account_id, rep_id=company.ids[r], received_at=at(t), external_id=f"C-{n}",
                              source="desk") for n, (r, t) in enumerate(COMPLAINTS))
