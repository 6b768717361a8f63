"""Gathering the month's rows for the fairness report, and posting the report to a team. Callers commit.

Who sees which team's report is decided by ``org.repository.readable_teams``: staff every team, a
supervisor their teams, a rep their own team — the report is a public notice within the team, so a rep
sees colleagues' counts there and nowhere else. Teams are today's teams: a rep who moved team is
reported under the team they are in now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, exists, func, select, union
from sqlalchemy.orm import Session

from evenhand.activities import repository as activity_repo
from evenhand.auth.principal import Principal
from evenhand.auth.visibility import team_appeals_visible
from evenhand.errors import Forbidden, Invalid, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, utcnow
from evenhand.leads import repository as lead_repo
from evenhand.models import (
    Appeal,
    AuditEntry,
    Department,
    Lead,
    Leave,
    Notification,
    Opportunity,
    Role,
    RoutingDecision,
    RoutingPolicyVersion,
    Stage,
    Team,
    User,
)
from evenhand.notify import service as notify
from evenhand.opportunities import repository as opportunity_repo
from evenhand.org.repository import readable_teams
from evenhand.reports.monthly import (
    AppealRow,
    FairnessReport,
    Inputs,
    Month,
    MonthLeads,
    Person,
    PolicyNote,
    TeamInfo,
    TeamReport,
    Unrouted,
    compute,
)
from evenhand.routing.policy import default_text
from evenhand.routing.policy_versions import compiled_body
from evenhand.routing.values import Decision

Progress = Callable[[str, int, int], None]
STEPS = ("teams", "decisions", "leads", "outcomes", "computed")
CARRIERS = (Role.REP, Role.SUPERVISOR)


def _quiet(step: str, done: int, total: int) -> None:
    return None


def parse_month(text: str, *, zone: ZoneInfo, now: datetime | None = None) -> Month:
    """A month that has begun, written ``YYYY-MM``; ``Invalid`` naming ``month`` otherwise."""
    try:
        month = Month.parse(text)
    except ValueError:
        raise Invalid("The month must look like 2026-11, not {value}.", field="month", value=text) from None
    current = Month.of(as_utc(now or utcnow()).astimezone(zone).date())
    if month > current:
        raise Invalid("{month} has not begun yet; pick {current} or earlier.", field="month", month=month.label,
                      current=current.label)
    return month


def policy_note(session: Session) -> PolicyNote:
    """The active routing policy (its threshold defines a high-quality lead); the shipped default until one
    is saved. Read only: the report never installs the default."""
    row = session.scalar(select(RoutingPolicyVersion).where(RoutingPolicyVersion.active.is_(True)))
    body = row.body if row is not None else default_text()
    policy = compiled_body(body).policy
    return PolicyNote(policy.name, row.version if row is not None else None, policy.threshold_high_value)


def teams_for(session: Session, principal: Principal | None, *, team_id: int | None = None,
              team_name: str | None = None) -> list[TeamInfo]:
    """The teams whose report the principal may read (every team for the command line), optionally one."""
    stmt = select(Team) if principal is None else readable_teams(principal)
    if team_id is not None:
        stmt = stmt.where(Team.id == team_id)
    if team_name is not None:
        stmt = stmt.where(Team.name == team_name)
    rows = list(session.scalars(stmt.order_by(Team.department_id, Team.name)))
    if not rows and (team_id is not None or team_name is not None):
        raise NotFound("No team {team} that you may see.", field="team_id" if team_name is None else "team",
                       team=team_id if team_name is None else team_name)
    departments = dict(session.execute(select(Department.id, Department.name)).tuples().all())
    return [TeamInfo(t.id, t.name, departments.get(t.department_id, ""), t.supervisor_id) for t in rows]


def build(session: Session, *, month: Month, zone: ZoneInfo, principal: Principal | None,
          team_id: int | None = None, team_name: str | None = None, progress: Progress = _quiet,
          now: datetime | None = None) -> FairnessReport:
    """The report for every team the principal may read. A rep reads the team's appeal counts and outcomes,
    but the list of who appealed which lead only about their own appeals."""
    teams = teams_for(session, principal, team_id=team_id, team_name=team_name)
    report = compute(gather(session, month=month, zone=zone, teams=teams, progress=progress, now=now))
    progress("computed", len(STEPS), len(STEPS))
    return report if principal is None else _as_seen_by(report, principal)


def _as_seen_by(report: FairnessReport, principal: Principal) -> FairnessReport:
    def seen(team: TeamReport) -> TeamReport:
        if team_appeals_visible(principal, team.id):
            return team
        return replace(team, appeal_rows=tuple(a for a in team.appeal_rows if a.appellant_id == principal.user_id))

    return replace(report, teams=tuple(seen(team) for team in report.teams))


def gather(session: Session, *, month: Month, zone: ZoneInfo, teams: list[TeamInfo], progress: Progress = _quiet,
           now: datetime | None = None) -> Inputs:
    start, end = month.bounds(zone)
    total = len(STEPS)
    people = _people(session, month, [t.id for t in teams])
    progress("teams", 1, total)
    decisions = _decisions(session, start, end)
    progress("decisions", 2, total)
    unrouted = _unrouted(session, start, end, zone, [p.id for p in people])
    progress("leads", 3, total)
    arrivals = _arrivals(session, start, end)
    won = _won(session, start, end)
    appeals = _appeals(session, start, end, [t.id for t in teams])
    progress("outcomes", 4, total)
    return Inputs(month, str(zone), now or utcnow(), policy_note(session), teams, people, decisions, unrouted,
                  won, appeals, arrivals)


def _people(session: Session, month: Month, team_ids: list[int]) -> list[Person]:
    users = list(session.scalars(select(User).where(User.team_id.in_(team_ids), User.role.in_(CARRIERS))))
    leaves: dict[int, list[tuple[Any, Any]]] = {u.id: [] for u in users}
    stmt = select(Leave.user_id, Leave.starts_on, Leave.ends_on).where(
        Leave.user_id.in_(list(leaves)), Leave.ends_on >= month.first, Leave.starts_on <= month.last)
    for user_id, starts, ends in session.execute(stmt).tuples():
        leaves[user_id].append((starts, ends))
    return [Person(u.id, u.display_name, u.username, u.team_id, u.level.value, u.role is Role.REP, u.hired_on,
                   u.left_on, tuple(leaves[u.id])) for u in users]


def _decisions(session: Session, start: datetime, end: datetime) -> list[Decision]:
    """The month's assignments, read back from their audit records. A lead reassigned within the month (an
    appeal, a supervisor) counts once, by its last decision: the rep who lost it did not keep it, and the
    share they were owed from the superseded decision goes with it."""
    stmt = (select(RoutingDecision.lead_id, AuditEntry.payload)
            .join(RoutingDecision, RoutingDecision.audit_seq == AuditEntry.seq)
            .where(RoutingDecision.created_at >= start, RoutingDecision.created_at < end,
                   RoutingDecision.outcome == "assigned")
            .order_by(RoutingDecision.id))
    last: dict[int, dict[str, Any]] = {}
    for lead_id, payload in session.execute(stmt).tuples():
        last[lead_id] = payload
    return [Decision.from_dict(payload["decision"]) for payload in last.values()]


def _unrouted(session: Session, start: datetime, end: datetime, zone: ZoneInfo, rep_ids: list[int]
              ) -> list[Unrouted]:
    routed = exists().where(RoutingDecision.lead_id == Lead.id)
    stmt = select(Lead.id, Lead.owner_id, Lead.assigned_at, Lead.score).where(
        Lead.assigned_at >= start, Lead.assigned_at < end, Lead.owner_id.in_(rep_ids), ~routed)
    return [Unrouted(lead_id, owner, as_utc(at).astimezone(zone).date(), score or 0)
            for lead_id, owner, at, score in session.execute(stmt).tuples() if owner is not None and at is not None]


def _arrivals(session: Session, start: datetime, end: datetime) -> MonthLeads:
    assigned = exists().where(RoutingDecision.lead_id == Lead.id, RoutingDecision.outcome == "assigned")
    decided = exists().where(RoutingDecision.lead_id == Lead.id)

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(select(
        func.count(), count(assigned), count(and_(~assigned, Lead.backfilled)),
        count(and_(~assigned, ~Lead.backfilled, decided)), count(and_(~Lead.backfilled, ~decided)),
    ).where(Lead.created_at >= start, Lead.created_at < end)).one()
    return MonthLeads(*(int(n) for n in row))


def _month_leads(start: datetime, end: datetime) -> Select[Any]:
    decided = select(RoutingDecision.lead_id).where(RoutingDecision.created_at >= start,
                                                    RoutingDecision.created_at < end)
    assigned = select(Lead.id).where(Lead.assigned_at >= start, Lead.assigned_at < end)
    return select(union(decided, assigned).subquery().c[0])


def _won(session: Session, start: datetime, end: datetime) -> frozenset[tuple[int, int]]:
    """(lead, rep) pairs where a lead of the month became a deal that rep won (by the time of the report)."""
    stmt = select(Opportunity.lead_id, Opportunity.owner_id).where(
        and_(Opportunity.stage == Stage.WON, Opportunity.lead_id.in_(_month_leads(start, end))))
    return frozenset((lead, owner) for lead, owner in session.execute(stmt).tuples() if lead is not None)


def _appeals(session: Session, start: datetime, end: datetime, team_ids: list[int]) -> list[AppealRow]:
    stmt = select(Appeal).where(Appeal.created_at >= start, Appeal.created_at < end,
                                Appeal.team_id.in_(team_ids)).order_by(Appeal.id)
    return [AppealRow(a.id, a.team_id, a.appellant_id, a.lead_id, a.status.value, a.reason_code, a.created_at,
                      a.decided_at) for a in session.scalars(stmt)]


# --- posting the report to the team ----------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    team_id: int
    month: str
    recipients: int
    notified: int  # new inbox entries; a repeated publish of the same month reaches nobody twice
    link: str


def report_link(month: Month, team_id: int) -> str:
    return f"/reports/fairness?month={month.label}&team={team_id}"


def publish(session: Session, *, month: Month, zone: ZoneInfo, team_id: int, actor: Principal) -> Published:
    """Notify every member of the team (and its supervisor) with a link to the month's report; audited."""
    if not (actor.manages_org or team_id in actor.supervised_team_ids):
        raise Forbidden("Only the team's supervisor, admin or ops can publish its fairness report.",
                        field="team_id")
    team = build(session, month=month, zone=zone, principal=actor, team_id=team_id).teams[0]
    link = report_link(month, team_id)
    recipients = _recipients(session, team_id, team.supervisor_id)
    keys = {user: f"fairness:{month.label}:{team_id}:{user}" for user in recipients}
    sent = set(session.scalars(select(Notification.idempotency_key).where(
        Notification.idempotency_key.in_(list(keys.values())))))
    message: dict[str, Any] = {
        "kind": "fairness_report", "link": link, "month": month.label, "team": team.name,
        "title": N_("Fairness report for {month} is out: {team}"),
        "body": N_("Leads received by each rep, the share the routing policy expected, and the chi-square test "
                   "for the team.")}
    if team.supervisor_id is not None:  # first, so the team's group channels (DingTalk/WeCom robot) carry it too
        notify.post_to_team(session, team_id=team_id, key=keys[team.supervisor_id], **message)
    for user, key in keys.items():
        notify.send(session, recipient_id=user, key=key, **message)
    notified = len([k for k in keys.values() if k not in sent])
    test = team.chi_square
    audit.append(session, action="reports.fairness_published", subject_type="teams", subject_id=team_id,
                 actor_id=actor.user_id, payload={
                     "month": month.label, "recipients": sorted(recipients), "notified": notified, "leads": team.leads,
                     "gini": round(team.gini, 6), "evidence": team.evidence,
                     "chi_square": None if test is None else {"statistic": round(test.statistic, 6), "dof": test.dof,
                                                              "p_value": round(test.p_value, 6)}})
    return Published(team_id, month.label, len(recipients), notified, link)


def _recipients(session: Session, team_id: int, supervisor_id: int | None) -> list[int]:
    members = set(session.scalars(select(User.id).where(User.team_id == team_id, User.active.is_(True))))
    return sorted(members | ({supervisor_id} if supervisor_id else set()))


def visible_counts(session: Session, principal: Principal) -> dict[str, int]:
    """What the home page counts: the leads, opportunities and activities the principal may read."""
    readable = ((N_("Leads"), lead_repo.readable(principal)),
                (N_("Opportunities"), opportunity_repo.readable(principal)),
                (N_("Activities"), activity_repo.readable(principal)))
    return {name: session.scalar(select(func.count()).select_from(stmt.subquery())) or 0 for name, stmt in readable}
