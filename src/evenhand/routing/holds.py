"""The holding queue: the leads nobody could take yet, offered again (``release_held``) and, once they have
waited the pool's ``escalate_after_minutes``, escalated to a supervisor. Callers commit (the worker runs
``release_held`` and ``escalate_held`` every minute).

Who hears: the supervisor the policy names for the pool (else ``holding.supervisor``); when it names
nobody, the supervisors of the teams whose reps are members of the pool; when those teams have none,
every admin and ops user. Each held lead escalates once (``escalated_at``); it stays in the queue and is
still routed the moment a rep is available.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.config import get_settings
from evenhand.i18n import N_
from evenhand.kit import audit, revision
from evenhand.kit.clock import local, utcnow
from evenhand.models import HeldLead, Lead, Role, RoutingDecision, Team, User
from evenhand.notify import service as notify
from evenhand.routing import engine
from evenhand.routing.availability import membership
from evenhand.routing.canary import arms
from evenhand.routing.policy import CompiledPolicy
from evenhand.routing.router import Router
from evenhand.routing.snapshot import lead_snapshot, rep_states

ESCALATED = "lead_held"


def held_leads(session: Session) -> list[HeldLead]:
    """The holding queue, oldest first."""
    return list(session.scalars(select(HeldLead).order_by(HeldLead.held_since)))


def release_held(session: Session, *, now: datetime | None = None) -> list[RoutingDecision]:
    """Try every held lead again (oldest first); those that find a rep leave the queue."""
    router = Router(session, now=now)
    router.release([lead for row in held_leads(session)
                    if (lead := session.get(Lead, row.lead_id)) is not None and lead.owner_id is None])
    return router.finish()


class Waiting(NamedTuple):
    """A lead in the holding queue, its times in the organisation's zone."""

    lead_id: int
    company: str
    pool: str  # the pool's label in the policy that routes the lead; the id of a pool it no longer has
    held_since: datetime
    escalated_at: datetime | None
    minutes: int  # waited so far


def waiting(session: Session, *, now: datetime | None = None) -> list[Waiting]:
    """The holding queue, oldest first."""
    at, zone, read = now or utcnow(), get_settings().zone, arms(session, revision.current(session))
    labels = {arm.version: {pool.id: pool.label or pool.id for pool in arm.policy.policy.pools} for arm in read.all()}
    stmt = select(HeldLead, Lead.company).join(Lead, Lead.id == HeldLead.lead_id).order_by(HeldLead.held_since)
    return [Waiting(held.lead_id, company, labels[read.of(held.lead_id).version].get(held.pool_id, held.pool_id),
                    local(held.held_since, zone),
                    local(held.escalated_at, zone) if held.escalated_at else None,
                    int((at - held.held_since).total_seconds() // 60))
            for held, company in session.execute(stmt).tuples()]


def escalate_held(session: Session, *, now: datetime | None = None) -> list[int]:
    """Escalate every held lead whose wait is over, by the policy that routes it (its arm's, while a canary runs);
    the ids of the leads escalated."""
    at, read = now or utcnow(), arms(session, revision.current(session))
    done = []
    for held in session.scalars(select(HeldLead).where(HeldLead.escalated_at.is_(None))
                                .order_by(HeldLead.held_since)).all():
        policy = read.of(held.lead_id).policy
        pool_id = held.pool_id if any(p.id == held.pool_id for p in policy.pools) else policy.pools[-1].id
        due = engine.escalate_due(held.held_since, at, policy, pool_id=pool_id)
        lead = session.get(Lead, held.lead_id)
        if due is None or lead is None:
            continue
        recipients = _supervisors(session, lead, due, at, policy)
        for user_id in recipients:
            notify.send(session, recipient_id=user_id, kind=ESCALATED, lead_id=lead.id, link=f"/leads/{lead.id}",
                        key=f"{ESCALATED}:{lead.id}:{user_id}", title=N_("Lead waiting for a rep: {company}"),
                        body=N_("Nobody in pool {pool} could take it; it has waited since {since}."),
                        company=lead.company, pool=pool_id,
                        since=held.held_since.astimezone(get_settings().zone).strftime("%m-%d %H:%M"))
        held.escalated_at = at
        audit.append(session, action="routing.escalated", subject_type="leads", subject_id=lead.id, at=at,
                     payload={"pool_id": pool_id, "held_since": held.held_since.isoformat(),
                              "due_at": due.due_at.isoformat(), "supervisor": due.supervisor,
                              "notified": recipients})
        done.append(lead.id)
    session.flush()
    return done


def _supervisors(session: Session, lead: Lead, due: engine.Escalation, at: datetime,
                 policy: CompiledPolicy) -> list[int]:
    if due.supervisor:
        named = session.scalar(select(User.id).where(User.username == due.supervisor, User.active.is_(True)))
        if named is not None:
            return [named]
    snapshot, pool = lead_snapshot(lead), policy.pool(due.pool_id)
    teams = {rep.team for rep in rep_states(session, at, get_settings().zone,
                                            high_value=policy.policy.threshold_high_value,
                                            members=lambda rep: not membership(rep, snapshot, pool),
                                            narrow_to=pool)}
    found = sorted({s for s in session.scalars(select(Team.supervisor_id).where(Team.name.in_(teams - {None})))
                    if s is not None})
    return found or list(session.scalars(select(User.id).where(User.role.in_((Role.ADMIN, Role.OPS)),
                                                               User.active.is_(True)).order_by(User.id)))
