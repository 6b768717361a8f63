"""Appeals (异议申诉, R1.4): a rep objects to an assignment; the supervisor upholds it, re-scores the lead with
the corrected facts, or reassigns it. Every step is audited and both sides are notified. Callers commit.

Rules: only the rep a decision assigned the lead to may appeal it, only while that decision is the lead's
latest assignment, and only within the window (``appeal_window_minutes`` after the decision). A decision is
appealed once: a second appeal is refused unless the first was withdrawn. Only the supervisor of the
appellant's team (the team at filing), admin and ops rule, and an appeal is ruled once. On PostgreSQL the
decision (filing) and the appeal (ruling, withdrawal) are locked so that two requests cannot both pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.appeals import repository
from evenhand.appeals.schemas import OUTCOME_STATUS, AppealCreate, Corrections, Ruling
from evenhand.auth.principal import Principal
from evenhand.config import get_settings
from evenhand.errors import Conflict, Forbidden, Invalid, NotFound
from evenhand.i18n import N_
from evenhand.kit import audit
from evenhand.kit.clock import as_utc, local, utcnow
from evenhand.leads import scoring_service
from evenhand.models import Appeal, AppealStatus, Lead, Role, RoutingDecision, Team, User
from evenhand.notify import service as notify
from evenhand.org import service as org_service
from evenhand.routing import reassignment
from evenhand.routing import service as routing_service

FILED_BODIES: dict[str, str] = {
    "wrong_industry": N_("The industry is wrong. {reason}"),
    "duplicate": N_("The lead is a duplicate. {reason}"),
    "out_of_territory": N_("The lead is outside the rep's territory. {reason}"),
    "wrong_score": N_("The score is wrong. {reason}"),
    "other": N_("Other reason: {reason}"),
}


def _locked(session: Session, stmt: Any) -> Any:
    """Rows read for a change, locked on PostgreSQL — after the audit chain, the order every writer keeps."""
    if session.get_bind().dialect.name != "postgresql":
        return stmt
    audit.lock(session)
    return stmt.with_for_update()


def window_closes(decision: RoutingDecision, window: timedelta) -> datetime:
    return as_utc(decision.created_at) + window


def appealable(session: Session, principal: Principal, decision: RoutingDecision, *, window: timedelta,
               now: datetime | None = None) -> bool:
    """Whether ``principal`` may appeal this decision now (what the decision page's button asks)."""
    try:
        _check_appealable(session, principal, decision, window, now or utcnow())
    except (Forbidden, Conflict):
        return False
    return True


def file(session: Session, data: AppealCreate, *, actor: Principal, window: timedelta,
         now: datetime | None = None) -> Appeal:
    """File an appeal against ``data.decision_id``; the appellant's supervisor is told at once."""
    at = now or utcnow()
    decision = session.scalar(_locked(session, select(RoutingDecision).where(RoutingDecision.id == data.decision_id)))
    if decision is None:
        raise NotFound("No routing decision with id {id}.", field="decision_id", id=data.decision_id)
    if decision.rep_id != actor.user_id:
        routing_service.visible_decision(session, actor, decision.id)  # NotFound for those who may not see it
    _check_appealable(session, actor, decision, window, at)
    lead = session.get(Lead, decision.lead_id)
    assert lead is not None
    _check_corrections(session, lead, data.corrections)
    team_id = session.scalar(select(User.team_id).where(User.id == actor.user_id))
    appeal = Appeal(decision_id=decision.id, lead_id=lead.id, appellant_id=actor.user_id, team_id=team_id,
                    reason_code=data.reason_code, reason=data.reason,
                    corrections=data.corrections.model_dump(exclude_none=True), status=AppealStatus.OPEN,
                    created_at=at)
    session.add(appeal)
    session.flush()
    audit.append(session, action="appeals.filed", subject_type="appeals", subject_id=appeal.id, actor_id=actor.user_id,
                 payload={"decision_id": decision.id, "lead_id": lead.id, "reason_code": appeal.reason_code,
                          "reason": appeal.reason, "corrections": appeal.corrections})
    for supervisor in supervisors(session, appeal):
        notify.send(session, recipient_id=supervisor, kind="appeal_filed", lead_id=lead.id, link="/appeals",
                    key=f"appeal_filed:{appeal.id}:{supervisor}",
                    title=N_("{rep} appealed the assignment of {company}"), body=FILED_BODIES[appeal.reason_code],
                    rep=actor.display_name, company=lead.company, reason=appeal.reason)
    return appeal


def _check_appealable(session: Session, actor: Principal, decision: RoutingDecision, window: timedelta,
                      at: datetime) -> None:
    if decision.rep_id != actor.user_id:
        raise Forbidden("Only the rep this decision gave the lead to may appeal it.", field="decision_id")
    latest = routing_service.latest_assignment(session, decision.lead_id)
    owner = session.scalar(select(Lead.owner_id).where(Lead.id == decision.lead_id))
    if latest is None or latest.id != decision.id or owner != actor.user_id:
        raise Conflict("The lead has been assigned again since decision {id}; only its latest assignment can be "
                       "appealed.", field="decision_id", id=decision.id)
    closes = window_closes(decision, window)
    if as_utc(at) > closes:
        raise Conflict("The appeal window closed at {closed_at}, {minutes} minutes after the assignment.",
                       field="decision_id", closed_at=local(closes, get_settings().zone).strftime("%Y-%m-%d %H:%M"),
                       minutes=int(window.total_seconds() // 60))
    earlier = session.scalar(select(Appeal).where(Appeal.decision_id == decision.id,
                                                  Appeal.status != AppealStatus.WITHDRAWN))
    if earlier is not None:
        raise Conflict("This assignment was appealed already (appeal {id}).", field="decision_id", id=earlier.id)


def _check_corrections(session: Session, lead: Lead, corrections: Corrections) -> None:
    """Corrections must name things that exist: a known region, another lead, a source that does not
    collide with a lead already there."""
    if corrections.region is not None:
        known = list(org_service.region_names(session))
        if corrections.region not in known:
            raise Invalid("corrections.region: unknown region {region}; the regions are {known}.",
                          field="corrections.region", region=corrections.region, known=", ".join(known) or "—")
    original = corrections.duplicate_of_id
    if original is not None and (original == lead.id or session.get(Lead, original) is None):
        raise Invalid("corrections.duplicate_of_id: there is no other lead with id {id}.",
                      field="corrections.duplicate_of_id", id=original)
    if corrections.source is not None and corrections.source != lead.source and session.scalar(
            select(Lead.id).where(Lead.source == corrections.source, Lead.external_id == lead.external_id)):
        raise Invalid("corrections.source: a lead from {source} with the same external id exists already.",
                      field="corrections.source", source=corrections.source)


def supervisors(session: Session, appeal: Appeal) -> list[int]:
    """Who hears about an appeal: the supervisor of the appellant's team; ops when the team has none."""
    boss = session.scalar(select(Team.supervisor_id).where(Team.id == appeal.team_id)) if appeal.team_id else None
    if boss is not None:
        return [boss]
    return list(session.scalars(select(User.id).where(User.role == Role.OPS, User.active.is_(True))
                                .order_by(User.id)))


def visible(session: Session, principal: Principal, appeal_id: int, *, lock: bool = False) -> Appeal:
    stmt = repository.readable(principal).where(Appeal.id == appeal_id)
    appeal = session.scalar(_locked(session, stmt) if lock else stmt)
    if appeal is None:
        raise NotFound("No appeal with id {id}.", field="appeal_id", id=appeal_id)
    return appeal


def withdraw(session: Session, appeal_id: int, *, actor: Principal) -> Appeal:
    appeal = visible(session, actor, appeal_id, lock=True)
    if appeal.appellant_id != actor.user_id:
        raise Forbidden("Only the rep who filed appeal {id} may withdraw it.", field="appeal_id", id=appeal_id)
    _check_open(appeal)
    appeal.status = AppealStatus.WITHDRAWN
    session.flush()
    audit.append(session, action="appeals.withdrawn", subject_type="appeals", subject_id=appeal.id,
                 actor_id=actor.user_id, payload={"decision_id": appeal.decision_id, "lead_id": appeal.lead_id})
    company = session.scalar(select(Lead.company).where(Lead.id == appeal.lead_id))
    for supervisor in supervisors(session, appeal):
        notify.send(session, recipient_id=supervisor, kind="appeal_withdrawn", lead_id=appeal.lead_id,
                    link="/appeals", key=f"appeal_withdrawn:{appeal.id}:{supervisor}",
                    title=N_("{rep} withdrew the appeal about {company}"), rep=actor.display_name, company=company)
    return appeal


def _check_open(appeal: Appeal) -> None:
    if appeal.status is not AppealStatus.OPEN:
        raise Conflict("Appeal {id} is closed already ({status}); an appeal is ruled or withdrawn once.",
                       field="appeal_id", id=appeal.id, status=appeal.status.value)


def may_rule(principal: Principal, appeal: Appeal) -> bool:
    return principal.manages_org or (principal.can_write and appeal.team_id in principal.supervised_team_ids)


def rule(session: Session, appeal_id: int, data: Ruling, *, actor: Principal, now: datetime | None = None) -> Appeal:
    """Decide an open appeal. ``rescore`` and ``reassign`` need the appealed decision to be the lead's latest
    assignment still; otherwise only ``uphold`` is left (``Conflict``)."""
    appeal = visible(session, actor, appeal_id, lock=True)
    if not may_rule(actor, appeal):
        raise Forbidden("Only the supervisor of the appellant's team, admin and ops may rule on appeal {id}.",
                        field="appeal_id", id=appeal_id)
    _check_open(appeal)
    lead = session.scalar(_locked(session, select(Lead).where(Lead.id == appeal.lead_id)))
    assert lead is not None
    facts: dict[str, Any] = {}
    outcome: RoutingDecision | None = None
    if data.outcome != "uphold":
        _check_still_assigned(session, appeal, lead)
        if data.outcome == "rescore":
            facts = rescore(session, lead, appeal.corrections, actor=actor, appeal_id=appeal.id)
            outcome = reassignment.reassign(session, lead, actor=actor, exclude={}, kind="appeal",
                                            note=data.note, now=now)
        else:
            outcome = reassignment.reassign(session, lead, actor=actor, to_rep_id=data.rep_id, kind="appeal",
                                            exclude={appeal.appellant_id: "appealed"}, note=data.note, now=now)
    _close(session, appeal, data, actor, outcome, facts, now or utcnow())
    _tell_appellant(session, appeal, lead, outcome, facts, actor)
    return appeal


def _check_still_assigned(session: Session, appeal: Appeal, lead: Lead) -> None:
    latest = routing_service.latest_assignment(session, lead.id)
    if latest is None or latest.id != appeal.decision_id or lead.owner_id != appeal.appellant_id:
        raise Conflict("Lead {id} has been assigned again since the appeal; the appeal can only be upheld now.",
                       field="outcome", id=lead.id)


def rescore(session: Session, lead: Lead, corrections: Mapping[str, Any], *, actor: Principal,
            appeal_id: int) -> dict[str, Any]:
    """Apply the corrected facts (audited as a change to the lead) and score it with the active model."""
    before = {name: getattr(lead, name) for name in corrections}
    score_before = lead.score
    for name, value in corrections.items():
        setattr(lead, name, value)
    if "duplicate_of_id" in corrections:
        original = session.get(Lead, corrections["duplicate_of_id"])
        lead.duplicate_of_id = (original.duplicate_of_id or original.id) if original else None
    scoring_service.score_leads(session, [lead])
    audit.append(session, action="leads.corrected", subject_type="leads", subject_id=lead.id, actor_id=actor.user_id,
                 payload={"appeal_id": appeal_id, "before": before, "after": dict(corrections),
                          "score_before": score_before, "score_after": lead.score,
                          "score_model_version": lead.score_model_version})
    return {"score_before": score_before, "score_after": lead.score}


def _close(session: Session, appeal: Appeal, data: Ruling, actor: Principal, outcome: RoutingDecision | None,
           facts: dict[str, Any], at: datetime) -> None:
    appeal.status, appeal.ruling = OUTCOME_STATUS[data.outcome], data.note
    appeal.decided_by_id, appeal.decided_at = actor.user_id, at
    appeal.outcome_decision_id = outcome.id if outcome else None
    session.flush()
    audit.append(session, action="appeals.ruled", subject_type="appeals", subject_id=appeal.id, actor_id=actor.user_id,
                 payload={"outcome": data.outcome, "status": appeal.status.value, "note": data.note,
                          "decision_id": appeal.decision_id, "lead_id": appeal.lead_id,
                          "outcome_decision_id": appeal.outcome_decision_id,
                          "rep_id": outcome.rep_id if outcome else None, **facts})


RULED_TITLES: dict[AppealStatus, str] = {
    AppealStatus.UPHELD: N_("Your appeal about {company} was decided: the assignment stands"),
    AppealStatus.RESCORED: N_("Your appeal about {company} was decided: re-scored {before} → {after}, routed to {rep}"),
    AppealStatus.REASSIGNED: N_("Your appeal about {company} was granted: the lead went to {rep}"),
}
RESCORED_AND_HELD = N_("Your appeal about {company} was decided: re-scored {before} → {after}; the lead waits for "
                       "an available rep")


def _tell_appellant(session: Session, appeal: Appeal, lead: Lead, outcome: RoutingDecision | None,
                    facts: dict[str, Any], actor: Principal) -> None:
    rep = session.scalar(select(User.display_name).where(User.id == outcome.rep_id)) if outcome and \
        outcome.rep_id else None
    notify.send(session, recipient_id=appeal.appellant_id, kind="appeal_ruled", lead_id=lead.id,
                link=f"/routing/decisions/{appeal.outcome_decision_id or appeal.decision_id}",
                key=f"appeal_ruled:{appeal.id}", title=RULED_TITLES[appeal.status] if rep or not outcome else
                RESCORED_AND_HELD,
                body=N_("{supervisor}: {note}") if appeal.ruling else "", company=lead.company,
                before=facts.get("score_before"), after=facts.get("score_after"), rep=rep or "—",
                supervisor=actor.display_name, note=appeal.ruling)
