"""The demo's last working afternoon is routed by evenhand itself.

The year before is the old hand-out, favouritism included. At 13:00 on the last working day the company
switched routing on: the leads that arrive that afternoon are taken in, scored and routed by the shipped
policy at the moment each arrives, through the same calls as ``POST /api/v1/leads``, on a clock frozen at
that moment — so the live feed, the decision explorer ("why this rep"), this month's fairness report and
the appeals queue have real decisions to show. Each rep opens their new lead a few minutes later. Two
reps appeal: one appeal is upheld by the team's supervisor, the other waits in the queue. A lead nobody
could take escalates to its supervisor when the pool's wait is over, as the worker would have done.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.appeals import service as appeals
from evenhand.appeals.schemas import AppealCreate, Ruling
from evenhand.auth.service import principal_for
from evenhand.demo.names import person_name
from evenhand.demo.worktime import holidays
from evenhand.intake import flows as intake_flows
from evenhand.kit.clock import as_utc, frozen
from evenhand.leads.schemas import EventCreate, LeadCreate
from evenhand.models import EventKind, HeldLead, Lead, Role, RoutingDecision, User
from evenhand.notify import service as notify
from evenhand.routing import engine, holds, policy_versions

LEADS = 40
GO_LIVE = time(13, 0)
LAST_ARRIVAL = time(16, 45)
LAST_APPEAL = time(15, 45)
CLOSE = time(17, 0)  # the snapshot: nothing happens after it  # of a decision still appealed that afternoon
APPEAL_WINDOW = timedelta(hours=2)  # the shipped EVENHAND_APPEAL_WINDOW_MINUTES; the demo's appeals come at 30 min
DEDUP = ("email", "phone")
# (reason code, what the rep says, the supervisor's ruling note or None while it waits in the queue)
APPEALS = (("duplicate", "这家公司上周已经联系过，另一位同事在跟进。",
            "查过了，之前的联系人已离职，这是新的需求，维持分配。"),
           ("out_of_territory", "客户总部在外省，不在我的区域。", None))
WARM_SHARE = 0.5  # of the afternoon's leads come with a fortnight of site visits, downloads and webinars
# the tables it adds rows to (the demo's summary recounts them afterwards)
LIVE_TABLES = ("leads", "behaviour_events", "routing_decisions", "routing_pool_states", "appeals", "notifications")


def go_live(session: Session, *, seed: int, end: date, zone: ZoneInfo, scale: float = 1.0) -> None:
    """Route the last working afternoon up to ``end`` in the caller's transaction (after scoring)."""
    rnd = random.Random(f"go-live:{seed}")
    day = last_working_day(end)
    templates = _templates(session, rnd, count=max(4, round(LEADS * min(scale, 1.0))))
    moments = sorted(_moment(rnd, day, zone) for _ in templates)
    routed: list[RoutingDecision] = []
    for number, (template, at) in enumerate(zip(templates, moments, strict=True), 1):
        with frozen(at):
            taken = intake_flows.take_in(session, [_lead(rnd, template, day, number, at)], actor=None,
                                                dedup=DEDUP)
        for _, decision in taken:
            if decision is not None and decision.rep_id is not None:  # the rep opens the new lead
                with frozen(at + timedelta(minutes=rnd.randint(2, 12))):
                    notify.acknowledge_lead(session, decision.lead_id, decision.rep_id)
                routed.append(decision)
    cutoff = datetime.combine(day, LAST_APPEAL, tzinfo=zone)  # so each is filed and ruled on by 17:00
    _appeal(session, rnd, [d for d in routed if as_utc(d.created_at) <= cutoff])
    _escalate(session, datetime.combine(end, CLOSE, tzinfo=zone))


def _escalate(session: Session, close: datetime) -> None:
    """What the worker does each minute: a lead still waiting when its pool's wait is over goes to the
    supervisor — at that moment, as long as it falls before the day's snapshot."""
    policy = policy_versions.compiled_body(policy_versions.active(session).body)
    due = sorted({engine.escalation(held.held_since, policy, held.pool_id).due_at
                  for held in session.scalars(select(HeldLead))})
    for at in (moment for moment in due if moment <= as_utc(close)):
        with frozen(at):
            holds.escalate_held(session, now=at)


def last_working_day(end: date) -> date:
    off = set(holidays(end.year - 1, end.year))
    day = end
    while day.weekday() >= 5 or day in off:
        day -= timedelta(days=1)
    return day


def _templates(session: Session, rnd: random.Random, *, count: int) -> list[Lead]:
    """Leads of the kind the company gets: the new ones copy what a sample of recent leads looked like
    (source, company, industry, region, size, title), with a new contact of their own."""
    recent = list(session.scalars(select(Lead).order_by(Lead.id.desc()).limit(2000)))
    return rnd.sample(recent, min(count, len(recent)))


def _moment(rnd: random.Random, day: date, zone: ZoneInfo) -> datetime:
    start = datetime.combine(day, GO_LIVE, tzinfo=zone)
    span = (datetime.combine(day, LAST_ARRIVAL, tzinfo=zone) - start).total_seconds()
    return start + timedelta(seconds=round(rnd.uniform(0, span)))


def _lead(rnd: random.Random, template: Lead, day: date, number: int, at: datetime) -> LeadCreate:
    name = person_name(rnd)
    domain = template.email.split("@", 1)[1] if template.email and "@" in template.email else "example.cn"
    return LeadCreate(source=template.source, external_id=f"{template.source}-live-{day:%Y%m%d}-{number:03d}",
                      company=template.company, contact_name=name.hanzi, email=f"{name.pinyin}{number}@{domain}",
                      phone=f"1{rnd.choice('3589')}{rnd.randrange(10**9):09d}", title=template.title,
                      industry=template.industry, region=template.region, company_size=template.company_size,
                      events=_warm_up(rnd, at) if rnd.random() < WARM_SHARE else [])


def _warm_up(rnd: random.Random, at: datetime) -> list[EventCreate]:
    """What a warm contact did on the site in the fortnight before filling in the form, in waking hours
    (``at`` is local time)."""
    def before(first: int, last: int) -> datetime:
        day = at - timedelta(days=rnd.randint(first, last))
        moment = day.replace(hour=rnd.randint(8, 21), minute=rnd.randint(0, 59), second=rnd.randint(0, 59))
        return min(moment, at - timedelta(minutes=rnd.randint(3, 90)))  # the same day: before the form

    events = [EventCreate(kind=EventKind.PAGE_VIEW, occurred_at=before(0, 14), dwell_seconds=rnd.randint(20, 400))
              for _ in range(rnd.randint(3, 12))]
    events += [EventCreate(kind=EventKind.WHITEPAPER_DOWNLOAD, occurred_at=before(1, 10))
               for _ in range(rnd.random() < 0.8)]
    events += [EventCreate(kind=EventKind.WEBINAR, occurred_at=before(1, 12)) for _ in range(rnd.choice((0, 1, 1, 2)))]
    events += [EventCreate(kind=EventKind.EMAIL_CLICK, occurred_at=before(0, 7)) for _ in range(rnd.randint(0, 2))]
    return sorted(events, key=lambda e: e.occurred_at or at)


def _appeal(session: Session, rnd: random.Random, assigned: list[RoutingDecision]) -> None:
    """Reps of different teams appeal half an hour after their lead came; a supervisor rules on the first."""
    picked: list[tuple[RoutingDecision, User]] = []
    for decision in rnd.sample(assigned, len(assigned)):
        rep = session.get(User, decision.rep_id)
        if rep is not None and rep.role is Role.REP and rep.team_id is not None \
                and all(rep.team_id != r.team_id for _, r in picked):
            picked.append((decision, rep))
        if len(picked) == len(APPEALS):
            break
    for (decision, rep), (reason_code, reason, ruling) in zip(picked, APPEALS, strict=False):
        filed_at = decision.created_at + timedelta(minutes=30)
        with frozen(filed_at):
            appeal = appeals.file(session, AppealCreate(decision_id=decision.id, reason_code=reason_code,
                                                        reason=reason),
                                  actor=principal_for(session, rep), window=APPEAL_WINDOW)
        if ruling is None:
            continue  # waits in the supervisor's queue
        supervisor = next((session.get(User, s) for s in appeals.supervisors(session, appeal)), None)
        if supervisor is not None:
            with frozen(filed_at + timedelta(minutes=40)):
                appeals.rule(session, appeal.id, Ruling(outcome="uphold", note=ruling),
                             actor=principal_for(session, supervisor))
