"""What-if replay (R4.7): the leads of a date range routed again under a candidate policy and under the
active one, side by side, before a change is saved. Reads only; the caller's transaction writes nothing
(except, on a brand-new database, the shipped default policy as version 1, like every routing read).

How the past is rebuilt — what is recorded is used, the rest is a stated assumption:

* leads: every lead created in the range, in arrival order, as routing reads it (``lead_snapshot``: its
  current score and fields), each counting as open until the moment the real lead closed;
* reps: today's roster of reps and selling supervisors (team, region, skills, product lines, working
  hours, caps), once per local day of the organisation with that day's standing: not yet hired
  (``hired_on`` later) or departed (``left_on``), leave, grants held at the day's start, the win record
  of the ``WINDOW_DAYS`` before it, and quota attainment of its month so far. A rep deactivated without
  a ``left_on`` is taken as inactive for the whole range;
* presence: from ``presence_since`` on, the current presence; before it, the presence changes recorded
  in the audit log; where nothing is recorded the rep is taken as online, so that working hours, leave
  and caps decide (historical presence is otherwise unknown);
* open leads: the leads a rep really held when the range began, each until it really closed, plus the
  ones the replay gives them (see ``rerun``);
* pool state: both sides start from the state recorded before the range's first decision in each pool
  (empty when none was recorded). Recorded decisions are not reused: every lead is decided again, so
  both sides see the same reconstruction.
"""

from __future__ import annotations

import time as timer
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal_column, or_, select
from sqlalchemy.orm import Session, load_only

from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Forbidden, Invalid
from evenhand.i18n import N_, t
from evenhand.kit.clock import as_utc, utcnow
from evenhand.models import (
    Activity,
    AuditEntry,
    Lead,
    LeadStatus,
    Leave,
    Opportunity,
    Role,
    RoutingDecision,
    Stage,
    User,
    UserGrant,
)
from evenhand.routing import policy_versions, service
from evenhand.routing.compare import PRIOR_LEADS, Rates, Record, compare, conversion_rates
from evenhand.routing.rerun import FOREVER, Arrival, Presence, Roster, rerun
from evenhand.routing.snapshot import lead_snapshot, rep_states
from evenhand.routing.values import PoolState, RepState

MAX_DAYS = 92
PREVIEW_DAYS = 14  # the days a change is replayed over before it is saved, unless told otherwise
# What a policy change may move, declared with each saved version (and offered from its replay).
METRICS = {"lead_distribution": N_("Leads per rep"), "high_value_share": N_("Share of high-value leads"),
           "conversion_rate": N_("Conversion rate"), "first_response_time": N_("First-response time"),
           "held_leads": N_("Leads waiting in the holding queue"), "appeals": N_("Appeals")}
WINDOW_DAYS = 180
EARLIEST = date(2000, 1, 1)
CARRIERS = (Role.REP, Role.SUPERVISOR)
STAGES = {"read": N_("Reading the history"), "current": N_("Replaying the active policy"),
          "candidate": N_("Replaying the candidate policy")}
ESTIMATOR = N_("Expected conversions: for each lead a rep would receive, the rep's share of converted leads "
               "among their closed leads of the same class (high-value or ordinary) in the {days} days before "
               "the range ends, shrunk toward the team's rate with a prior worth {prior} leads (the team's "
               "toward the organisation's).")
Progress = Callable[[str, int, int], None]


def check_range(start: date, end: date, *, today: date) -> None:
    if start < EARLIEST:
        raise Invalid("The range must start on or after {earliest}.", field="from", earliest=EARLIEST.isoformat())
    if end < start:
        raise Invalid("The range ends before it starts.", field="to")
    if end > today:
        raise Invalid("The range cannot end after today ({today}).", field="to", today=today.isoformat())
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid("A replay covers at most {days} days.", field="to", days=MAX_DAYS)


def replay(session: Session, body: str, *, start: date, end: date, principal: Principal | None = None,
           progress: Progress | None = None) -> dict[str, Any]:
    """Both policies over the leads created from ``start`` to ``end`` (local dates, inclusive), compared."""
    if principal is not None and not principal.sees_team_figures:  # None: the CLI
        raise Forbidden("Only sales operations, supervisors and auditors may run a what-if replay.")
    candidate = policy_versions.validate(body)
    zone = get_settings().zone
    check_range(start, end, today=utcnow().astimezone(zone).date())
    began = timer.perf_counter()
    report: Progress = progress or _quiet
    version = policy_versions.active(session)
    current = policy_versions.compiled_body(version.body)
    threshold = current.policy.threshold_high_value
    report("read", 0, 1)
    history = read_history(session, start, end, zone, threshold=threshold)
    report("read", 1, 1)
    runs = {}
    for name, policy in (("current", current), ("candidate", candidate)):
        runs[name] = rerun(history.arrivals, history.roster, policy, states=history.states, until=history.finish,
                           progress=_stage(report, name))
        report(name, 1, 1)
    figures = compare(runs["current"], runs["candidate"], rates=history.rates, threshold=threshold,
                      names=history.names, team_of=history.team_of, actual=history.actual)
    return {"from": start.isoformat(), "to": end.isoformat(), "leads": len(history.arrivals), "threshold": threshold,
            "policies": {"current": {"version": version.version, "name": current.policy.name, "hash": current.hash},
                         "candidate": {"version": None, "name": candidate.policy.name, "hash": candidate.hash}},
            "estimator": {"prior_leads": PRIOR_LEADS, "window_days": WINDOW_DAYS,
                          "description": t(ESTIMATOR, days=WINDOW_DAYS, prior=int(PRIOR_LEADS))},
            "seconds": round(timer.perf_counter() - began, 3), **figures}


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def _stage(report: Progress, stage: str) -> Callable[[int, int], None]:
    return lambda done, total: report(stage, done, total)


@dataclass(frozen=True)
class History:
    arrivals: list[Arrival]
    actual: dict[int, int]  # leads of the range each rep owns today
    roster: Roster
    states: dict[str, PoolState]
    names: dict[int, str]
    team_of: dict[int, str | None]
    rates: Rates
    finish: datetime


def read_history(session: Session, start: date, end: date, zone: ZoneInfo, *, threshold: int) -> History:
    begin, finish = _day_start(start, zone), _day_start(end + timedelta(days=1), zone)
    arrivals, actual = _arrivals(session, begin, finish)
    roster, names = _roster(session, start, end, zone)
    team_of = {rep.id: rep.team for rep in roster.days[start]}
    rates = conversion_rates(_conversions(session, begin - timedelta(days=WINDOW_DAYS), finish, threshold), team_of)
    return History(arrivals, actual, roster, _initial_states(session, begin, finish), names, team_of, rates, finish)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return as_utc(datetime.combine(day, time.min, tzinfo=zone))


def _arrivals(session: Session, begin: datetime, finish: datetime) -> tuple[list[Arrival], dict[int, int]]:
    columns = (Lead.id, Lead.created_at, Lead.score, Lead.source, Lead.industry, Lead.region, Lead.company_size,
               Lead.title, Lead.company, Lead.closed_at, Lead.owner_id)
    stmt = (select(Lead).options(load_only(*columns)).where(Lead.created_at >= begin, Lead.created_at < finish)
            .order_by(Lead.created_at, Lead.id))
    leads = list(session.scalars(stmt))
    arrivals = [Arrival(lead.created_at, lead_snapshot(lead), lead.closed_at) for lead in leads]
    return arrivals, dict(Counter(lead.owner_id for lead in leads if lead.owner_id is not None))


# --- the roster, day by day ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    active: bool
    hired_on: date | None
    left_on: date | None
    presence: str
    presence_since: datetime | None
    quota: float

    def standing(self, day: date) -> bool:
        """On the books that day; a departure itself is the engine's ``departed`` from ``left_on`` on."""
        if self.hired_on is not None and self.hired_on > day:
            return False
        return self.active or (self.left_on is not None and day < self.left_on)


def _roster(session: Session, start: date, end: date, zone: ZoneInfo) -> tuple[Roster, dict[int, str]]:
    begin, finish = _day_start(start, zone), _day_start(end + timedelta(days=1), zone)
    base = rep_states(session, finish, zone, high_value=100)
    rows = session.execute(select(User.id, User.display_name, User.active, User.hired_on, User.left_on, User.presence,
                                  User.presence_since, User.monthly_quota).where(User.role.in_(CARRIERS))).tuples()
    people, names = {}, {}
    for uid, name, active, hired, left, now_presence, since, quota in rows:
        people[uid] = _Person(active, hired, left, now_presence.value, since, float(quota or 0))
        names[uid] = name
    leaves = _leaves(session, start - timedelta(days=1), end + timedelta(days=1))
    grants = _grants(session)
    deals = _Deals.read(session, begin - timedelta(days=WINDOW_DAYS), finish)
    days = {}
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        at, month = _day_start(day, zone), _day_start(day.replace(day=1), zone)
        days[day] = tuple(_on_day(rep, people[rep.id], day, at, month, leaves, grants, deals)
                          for rep in base if rep.id in people)
    presence = _presence(session, start, end, zone, people)
    return Roster(zone, days, presence, _carried(session, begin)), names


def _on_day(rep: RepState, person: _Person, day: date, at: datetime, month: datetime,
            leaves: dict[int, tuple[tuple[date, date], ...]], grants: dict[int, list[tuple[str, datetime, Any]]],
            deals: _Deals) -> RepState:
    wins, closed, won = deals.at(rep.id, at, month)
    held = tuple(g for g, since, until in grants.get(rep.id, ()) if since <= at and (until is None or until > at))
    return replace(rep, active=person.standing(day), leaves=leaves.get(rep.id, ()), grants=held, wins=wins,
                   deals=closed, quota_attainment=won / person.quota if person.quota > 0 else None, open_leads=0,
                   presence=person.presence, presence_since=person.presence_since)


def _leaves(session: Session, first: date, last: date) -> dict[int, tuple[tuple[date, date], ...]]:
    out: dict[int, list[tuple[date, date]]] = defaultdict(list)
    stmt = select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(Leave.ends_on >= first, Leave.starts_on <= last)
    for uid, a, b in session.execute(stmt).tuples():
        out[uid].append((a, b))
    return {uid: tuple(sorted(spans)) for uid, spans in out.items()}


def _grants(session: Session) -> dict[int, list[tuple[str, datetime, Any]]]:
    out: dict[int, list[tuple[str, datetime, Any]]] = defaultdict(list)
    stmt = select(UserGrant.user_id, UserGrant.grant, UserGrant.created_at, UserGrant.expires_at)
    for uid, grant, since, until in session.execute(stmt).tuples():
        out[uid].append((grant, as_utc(since), None if until is None else as_utc(until)))
    return out


@dataclass(frozen=True)
class _Deals:
    """Each rep's closed deals in time order, with running counts of wins and amounts won."""

    times: dict[int, list[datetime]]
    wins: dict[int, list[int]]
    won: dict[int, list[float]]

    @classmethod
    def read(cls, session: Session, since: datetime, until: datetime) -> _Deals:
        stmt = (select(Opportunity.owner_id, Opportunity.closed_at, Opportunity.stage, Opportunity.amount)
                .where(Opportunity.stage.in_((Stage.WON, Stage.LOST)), Opportunity.closed_at >= since,
                       Opportunity.closed_at < until).order_by(Opportunity.closed_at))
        rows: dict[int, list[tuple[datetime, bool, float]]] = defaultdict(list)
        for owner, closed, stage, amount in session.execute(stmt).tuples():
            if closed is not None:
                rows[owner].append((as_utc(closed), stage is Stage.WON, float(amount or 0)))
        return cls({r: [c for c, _, _ in v] for r, v in rows.items()},
                   {r: [0, *accumulate(int(w) for _, w, _ in v)] for r, v in rows.items()},
                   {r: [0.0, *accumulate(a if w else 0.0 for _, w, a in v)] for r, v in rows.items()})

    def at(self, rep: int, moment: datetime, month: datetime) -> tuple[int, int, float]:
        """(wins, closed deals) in the window before ``moment``, and the amount won since ``month`` began."""
        times = self.times.get(rep)
        if not times:
            return 0, 0, 0.0
        lo, hi = bisect_left(times, moment - timedelta(days=WINDOW_DAYS)), bisect_left(times, moment)
        first = bisect_left(times, month)
        return self.wins[rep][hi] - self.wins[rep][lo], hi - lo, self.won[rep][hi] - self.won[rep][first]


def _presence(session: Session, start: date, end: date, zone: ZoneInfo,
              people: dict[int, _Person]) -> dict[int, Presence]:
    """Recorded changes in the range, and each rep's first one after it (its ``from`` is the presence before)."""
    begin, finish = _day_start(start, zone), _day_start(end + timedelta(days=1), zone)
    changes: dict[int, list[tuple[datetime, str, str]]] = defaultdict(list)
    action = AuditEntry.action == "presence.change"
    stmt = (select(AuditEntry.subject_id, AuditEntry.at, AuditEntry.payload)
            .where(action, AuditEntry.at >= begin, AuditEntry.at < finish).order_by(AuditEntry.seq))
    for subject, at, payload in session.execute(stmt).tuples():
        changes[int(subject or 0)].append((as_utc(at), payload.get("from", "offline"), payload.get("to", "offline")))
    firsts = select(func.min(AuditEntry.seq)).where(action, AuditEntry.at >= finish).group_by(AuditEntry.subject_id)
    later = {int(s or 0): p.get("from", "offline") for s, p in session.execute(
        select(AuditEntry.subject_id, AuditEntry.payload).where(AuditEntry.seq.in_(firsts))).tuples()}
    worked = _worked(session, begin, finish, zone, list(people))
    days = [(start + timedelta(days=n), _day_start(start + timedelta(days=n), zone))
            for n in range((end - start).days + 1)]
    return {uid: _presence_of(person, changes.get(uid, []), later.get(uid), begin, finish,
                              [(at, "online" if day in worked.get(uid, ()) else "offline") for day, at in days])
            for uid, person in people.items()}


def _presence_of(person: _Person, changes: list[tuple[datetime, str, str]], later: str | None, begin: datetime,
                 finish: datetime, evidence: list[tuple[datetime, str]]) -> Presence:
    """Current presence from ``presence_since``; before it the recorded changes, or the first recorded
    change after the range; with nothing recorded at all, the evidence of each day (see ``_worked``)."""
    since = as_utc(person.presence_since) if person.presence_since else begin
    current = [(since, person.presence)] if begin <= since < finish else []
    if changes:
        return Presence.of(changes[0][1], [(at, to) for at, _, to in changes] + current)
    if since < begin:
        return Presence.of(person.presence)
    if later is not None:
        return Presence.of(later, current)
    return Presence.of("offline", [(at, value) for at, value in evidence if at < since] + current)


def _worked(session: Session, begin: datetime, finish: datetime, zone: ZoneInfo,
            ids: list[int]) -> dict[int, set[date]]:
    """The local days on which each rep evidently worked: they received a lead or logged an activity."""
    out: dict[int, set[date]] = defaultdict(set)
    leads = select(Lead.owner_id, Lead.assigned_at).where(
        Lead.owner_id.in_(ids), Lead.assigned_at >= begin, Lead.assigned_at < finish)
    acts = select(Activity.rep_id, Activity.occurred_at).where(
        Activity.rep_id.in_(ids), Activity.occurred_at >= begin, Activity.occurred_at < finish)
    for stmt in (leads, acts):
        for rep, at in session.execute(stmt).tuples():
            if rep is not None and at is not None:
                out[rep].add(as_utc(at).astimezone(zone).date())
    return out


def _carried(session: Session, begin: datetime) -> dict[int, tuple[datetime, ...]]:
    """When each lead a rep held at the start of the range closed (``FOREVER``: still open)."""
    stmt = select(Lead.owner_id, Lead.closed_at).where(
        Lead.owner_id.is_not(None), Lead.assigned_at < begin, Lead.created_at < begin,
        or_(Lead.closed_at.is_(None), Lead.closed_at >= begin))
    out: dict[int, list[datetime]] = defaultdict(list)
    for owner, closed in session.execute(stmt).tuples():
        if owner is not None:
            out[owner].append(FOREVER if closed is None else as_utc(closed))
    return {owner: tuple(sorted(times)) for owner, times in out.items()}


# --- pool states and conversion history -----------------------------------------------------------


def _initial_states(session: Session, begin: datetime, finish: datetime) -> dict[str, PoolState]:
    first = (select(RoutingDecision.pool_id, func.min(RoutingDecision.id))
             .join(Lead, Lead.id == RoutingDecision.lead_id)
             .where(Lead.created_at >= begin, Lead.created_at < finish, RoutingDecision.pool_id.is_not(None))
             .group_by(RoutingDecision.pool_id))
    states = {}
    for pool_id, decision_id in session.execute(first).tuples():
        if pool_id is None:
            continue
        _, payload = service.decision(session, decision_id)
        states[pool_id] = PoolState.from_dict(payload["decision"]["state_before"])
    return states


def _conversions(session: Session, since: datetime, until: datetime, threshold: int) -> list[Record]:
    # the threshold inline, not bound: PostgreSQL must see the same expression in SELECT and GROUP BY
    high = case((Lead.score >= literal_column(str(int(threshold))), 1), else_=0)
    converted = func.sum(case((Lead.status == LeadStatus.CONVERTED, 1), else_=0))
    stmt = (select(Lead.owner_id, high, func.count(), converted)
            .where(Lead.owner_id.is_not(None), Lead.status.in_((LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)),
                   Lead.closed_at >= since, Lead.closed_at < until)
            .group_by(Lead.owner_id, high))
    return [(owner, bool(h), int(n), int(c or 0)) for owner, h, n, c in session.execute(stmt).tuples()]


def suggested_metrics(result: dict[str, Any]) -> list[str]:
    """The metrics the replay shows moving, offered as the change's declared impact."""
    diff = result["difference"]
    out = ["lead_distribution"] if diff["moved"] else []
    out += ["high_value_share"] if any(r["difference"]["high_value"] for r in result["reps"]) else []
    out += ["conversion_rate"] if diff["expected_conversions"] else []
    out += ["held_leads"] if diff["held"] or result["current"]["waited"] != result["candidate"]["waited"] else []
    return out
