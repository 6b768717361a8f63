"""What the appeal pages and the API show, each read in one call: the supervisor's queue with the evidence, the
tables of appeals, one appeal in full, the metrics, and what a person may do about a routing decision.

Appeals are read through ``repository.readable``, leads through the leads domain's ``readable``, people and
regions through the org services. The service (``service``) holds the rules and the writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from evenhand.appeals import metrics, repository, service
from evenhand.appeals.schemas import AppealDetail, AppealRead, MetricsRead, TeamFigures
from evenhand.auth.principal import Principal
from evenhand.errors import NotFound
from evenhand.leads import repository as lead_repository
from evenhand.leads import service as lead_service
from evenhand.models import Appeal, AppealStatus, Lead, LeadStatus
from evenhand.org import service as org_service
from evenhand.routing import service as routing_service
from evenhand.routing.values import Verdict

CLOSED_LEADS = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)  # nobody reassigns a lead won or given up


def listed(session: Session, principal: Principal, *, status: AppealStatus | None = None,
           limit: int = 200) -> list[Appeal]:
    return list(session.scalars(repository.listed(principal, status=status, limit=limit)))


def overview(session: Session, principal: Principal, *, since: date | None, until: date | None,
             zone: ZoneInfo) -> MetricsRead:
    """The metrics of the appeals the caller may read, overall and per team (``team`` None: no team)."""
    facts = repository.facts(session, principal, since=since, until=until, zone=zone)
    names = org_service.team_names(session)
    teams = [TeamFigures(**asdict(figures), team_id=team, team=names.get(team) if team else None)
             for team, figures in metrics.by_team(facts).items()]
    return MetricsRead(overall=metrics.figures(facts), teams=teams)


def detail(session: Session, principal: Principal, appeal_id: int, *, window: timedelta) -> AppealDetail:
    """The appeal with the decision's evidence as the caller may see it (``decision`` None when they may not)."""
    appeal = service.visible(session, principal, appeal_id)
    shown: dict[str, Any] | None
    try:
        evidence = routing_service.visible_decision(session, principal, appeal.decision_id)
    except NotFound:
        decision, _ = routing_service.decision(session, appeal.decision_id)
        shown = None
    else:
        decision = evidence["row"]
        hidden = () if evidence["full"] else ("state_before", "state_after")
        shown = {k: v for k, v in evidence["record"].items() if k not in hidden} | {
            "verdicts": evidence["verdicts"], "kind": decision.kind}
    return AppealDetail(**AppealRead.model_validate(appeal).model_dump(),
                        company=repository.companies(session, [appeal.lead_id]).get(appeal.lead_id, ""),
                        appellant_name=org_service.display_names(session, [appeal.appellant_id]).get(
                            appeal.appellant_id, ""),
                        window_closes_at=service.window_closes(decision, window), decision=shown)


# --- the pages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """An appeal in a table, with the names it is shown by."""

    appeal: Appeal
    company: str
    appellant: str


@dataclass(frozen=True)
class QueueItem(Row):
    """An open appeal with what the supervisor rules on: every rep the decision considered, and whom a
    reassignment may name (everyone who carries leads but the appellant)."""

    score: int | None
    verdicts: list[tuple[str, Verdict]]  # (rep's name, verdict)
    may_rule: bool
    reps: dict[int, str]


def _rows(session: Session, appeals: list[Appeal]) -> list[Row]:
    names = org_service.display_names(session, {a.appellant_id for a in appeals})
    companies = repository.companies(session, {a.lead_id for a in appeals})
    return [Row(a, companies.get(a.lead_id, ""), names.get(a.appellant_id, "")) for a in appeals]


def decided(session: Session, principal: Principal, *, limit: int = 50) -> list[Row]:
    return _rows(session, list(session.scalars(repository.decided(principal, limit=limit))))


def filed_by(session: Session, principal: Principal, *, limit: int = 100) -> list[Row]:
    """The principal's own appeals, newest first."""
    return _rows(session, list(session.scalars(repository.filed_by(principal, limit=limit))))


def waiting(session: Session, principal: Principal) -> list[Row]:
    """The open appeals the principal may rule on (their teams' for a supervisor), oldest first: the home page's
    list, without the evidence the queue reads for each."""
    return _rows(session, [a for a in listed(session, principal, status=AppealStatus.OPEN)
                           if service.may_rule(principal, a)])


def queue(session: Session, principal: Principal) -> list[QueueItem]:
    """Open appeals, oldest first. An appeal whose lead has moved out of the caller's sight since stays in the
    queue, without its evidence: it is still theirs to rule on."""
    rows = _rows(session, listed(session, principal, status=AppealStatus.OPEN))
    evidence = [_evidence(session, principal, row.appeal.decision_id) for row in rows]
    names = org_service.display_names(session, {v.rep_id for _, verdicts in evidence for v in verdicts})
    reps = org_service.carrier_names(session) if rows else {}
    return [QueueItem(row.appeal, row.company, row.appellant, score=score,
                      verdicts=[(names.get(v.rep_id, str(v.rep_id)), v) for v in verdicts],
                      may_rule=service.may_rule(principal, row.appeal),
                      reps={k: v for k, v in reps.items() if k != row.appeal.appellant_id})
            for row, (score, verdicts) in zip(rows, evidence, strict=True)]


def _evidence(session: Session, principal: Principal, decision_id: int) -> tuple[int | None, list[Verdict]]:
    """The lead's score when decided and the verdicts the caller may see; nothing when they may not see it."""
    try:
        view = routing_service.visible_decision(session, principal, decision_id)
    except NotFound:
        return None, []
    return view["record"]["lead"].get("score"), [Verdict.from_dict(v) for v in view["verdicts"]]


@dataclass(frozen=True)
class DecisionOptions:
    """What a person may do about a routing decision: see their own appeal of it, appeal it (until
    ``appeal_closes``, naming a region among ``regions``), reassign its lead ``lead_id`` to one of ``reps``."""

    own_appeal: AppealStatus | None
    appeal_closes: datetime | None  # None: they may not appeal it
    regions: dict[str, str]
    lead_id: int | None  # None: they may not reassign the lead
    reps: dict[int, str]


def decision_options(session: Session, principal: Principal, decision_id: int, *, window: timedelta,
                     now: datetime | None = None) -> DecisionOptions | None:
    """None for a decision that does not exist. The appeal and the reassignment need a lead the caller may
    read (the rep who owns it; whoever may reassign it); their own appeal they see even once the lead has gone
    to someone else."""
    try:
        row, _ = routing_service.decision(session, decision_id)
    except NotFound:
        return None
    own = session.scalar(repository.filed_by(principal, decision_id=row.id, limit=1))
    lead = _readable_lead(session, principal, row.lead_id)
    may_appeal = lead is not None and service.appealable(session, principal, row, window=window, now=now)
    movable = lead if lead is not None and _may_reassign(session, principal, lead) else None
    return DecisionOptions(
        own_appeal=own.status if own is not None else None,
        appeal_closes=service.window_closes(row, window) if may_appeal else None,
        regions=org_service.region_names(session) if may_appeal else {},
        lead_id=movable.id if movable else None,
        reps={k: v for k, v in org_service.carrier_names(session).items() if k != movable.owner_id} if movable else {})


def _readable_lead(session: Session, principal: Principal, lead_id: int) -> Lead | None:
    try:
        return lead_service.visible_lead(session, lead_id, lead_repository.readable(principal))
    except NotFound:
        return None


def _may_reassign(session: Session, principal: Principal, lead: Lead) -> bool:
    return principal.can_write and lead.status not in CLOSED_LEADS and \
        routing_service.may_reassign(session, principal, lead)
