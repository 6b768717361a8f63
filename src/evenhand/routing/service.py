"""Routing decisions as people see them (the live feed, one decision's evidence and its replay), and who may
act on a lead's routing. Callers commit.

How much of a decision a principal sees is ``auth.visibility.every_candidate_visible``; the decisions of the
feed are those about leads ``leads.repository.readable`` lets them read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.auth.visibility import every_candidate_visible
from evenhand.config import get_settings
from evenhand.errors import Forbidden, NotFound
from evenhand.kit import audit
from evenhand.kit.clock import utcnow
from evenhand.leads import repository as lead_repository
from evenhand.models import AuditEntry, Lead, RoutingDecision, Team, User
from evenhand.org import service as org_service
from evenhand.routing import engine
from evenhand.routing.availability import membership
from evenhand.routing.canary import lead_arm
from evenhand.routing.policy import CompiledPolicy, CompiledPool
from evenhand.routing.policy_versions import compiled_body, version
from evenhand.routing.snapshot import lead_snapshot, rep_states
from evenhand.routing.values import Decision, LeadSnapshot, RepState


def decision(session: Session, decision_id: int) -> tuple[RoutingDecision, dict[str, Any]]:
    row = session.get(RoutingDecision, decision_id)
    if row is None:
        raise NotFound("No routing decision with id {id}.", field="decision_id", id=decision_id)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.seq == row.audit_seq))
    assert entry is not None
    return row, entry.payload


def visible_decision(session: Session, principal: Principal, decision_id: int) -> dict[str, Any]:
    """The evidence as this person may see it. Whoever may read the lead, and every rep who was
    considered for it ("why not me"), may look; staff, supervisors and the chosen rep see every
    candidate, other reps only their own verdict (not colleagues' presence or leave)."""
    row, payload = decision(session, decision_id)
    record = payload["decision"]
    readable = lead_repository.readable_lead(session, principal, row.lead_id) is not None
    if not readable and not any(v["rep_id"] == principal.user_id for v in record["verdicts"]):
        raise NotFound("No routing decision with id {id}.", field="decision_id", id=decision_id)
    full = every_candidate_visible(principal, chosen_rep_id=row.rep_id)
    return {"row": row, "record": record, "full": full, "pool_label": _pool_label(session, row),
            "verdicts": record["verdicts"] if full else [v for v in record["verdicts"]
                                                          if v["rep_id"] == principal.user_id]}


def _pool_label(session: Session, row: RoutingDecision) -> str | None:
    """The pool's label in the policy version that made the decision (its id when it has none)."""
    if row.pool_id is None:
        return None
    pools = compiled_body(version(session, row.policy_version).body).policy.pools
    return next((pool.label or pool.id for pool in pools if pool.id == row.pool_id), row.pool_id)


@dataclass(frozen=True)
class FeedLine:
    """A decision in the live feed, with its lead's company and score and its rep's name."""

    decision: RoutingDecision
    company: str
    score: int | None
    rep: str | None


def feed_lines(session: Session, principal: Principal, *, limit: int = 100) -> list[FeedLine]:
    rows = feed(session, principal, limit=limit)
    leads = lead_repository.companies_and_scores(session, {r.lead_id for r in rows})
    names = org_service.display_names(session, {r.rep_id for r in rows if r.rep_id})
    return [FeedLine(r, *leads.get(r.lead_id, ("", None)), names.get(r.rep_id) if r.rep_id else None) for r in rows]


def feed(session: Session, principal: Principal, *, lead_id: int | None = None, limit: int = 50
         ) -> list[RoutingDecision]:
    """Recent decisions, newest first, about leads the caller may read."""
    visible = lead_repository.readable(principal).with_only_columns(Lead.id).scalar_subquery()
    stmt = select(RoutingDecision).where(RoutingDecision.lead_id.in_(visible))
    if lead_id is not None:
        stmt = stmt.where(RoutingDecision.lead_id == lead_id)
    return list(session.scalars(stmt.order_by(RoutingDecision.id.desc()).limit(limit)))


def replay(session: Session, decision_id: int) -> tuple[Decision, Decision]:
    """The recorded decision and the one recomputed from its recorded inputs under its policy version."""
    row, payload = decision(session, decision_id)
    recorded = Decision.from_dict(payload["decision"])
    return recorded, engine.replay(recorded, compiled_body(version(session, row.policy_version).body))


def latest_assignment(session: Session, lead_id: int) -> RoutingDecision | None:
    """The decision that gave the lead to its current owner (the newest that assigned it)."""
    return session.scalar(select(RoutingDecision).where(RoutingDecision.lead_id == lead_id,
                                                        RoutingDecision.outcome == "assigned")
                          .order_by(RoutingDecision.id.desc()).limit(1))


# --- who may reassign a lead ----------------------------------------------------------------------


def may_reassign(session: Session, principal: Principal, lead: Lead) -> bool:
    """Admin and ops; the supervisor of the owner's team; for a lead nobody owns, the supervisor of a
    team with members in the lead's pool, or the supervisor the policy names for that pool."""
    if principal.manages_org:
        return True
    if not principal.supervised_team_ids or not principal.can_write:
        return False
    if lead.owner_id is not None:
        team = session.scalar(select(User.team_id).where(User.id == lead.owner_id))
        return team in principal.supervised_team_ids
    return principal.user_id in pool_supervisors(session, lead)


def pool_supervisors(session: Session, lead: Lead) -> set[int]:
    """Who supervises the pool that routes this lead: by its arm's policy, while a canary runs."""
    policy = lead_arm(session, lead.id).policy
    snapshot = lead_snapshot(lead)
    pool = policy.pool(engine.select_pool(snapshot, policy).pool_id)
    roster = candidates(session, utcnow(), policy, snapshot, pool, ())
    members = [rep.id for rep in roster if not membership(rep, snapshot, pool)]
    found = {i for i in session.scalars(select(Team.supervisor_id).join(User, User.team_id == Team.id)
                                        .where(User.id.in_(members))) if i is not None}
    named = pool.spec.supervisor or policy.policy.holding.supervisor
    if named:
        found |= set(session.scalars(select(User.id).where(User.username == named)))
    return found


def reassignable(session: Session, principal: Principal, lead_id: int) -> Lead:
    """The lead, locked for the change on PostgreSQL; ``NotFound`` when the caller may neither read nor
    reassign it, ``Forbidden`` when they may read it but not reassign it."""
    stmt = select(Lead).where(Lead.id == lead_id)
    if session.get_bind().dialect.name == "postgresql":
        audit.lock(session)  # the chain before the lead's row: the order every routing writer keeps
        stmt = stmt.with_for_update()
    lead = session.scalar(stmt)
    if lead is not None and may_reassign(session, principal, lead):
        return lead
    if lead is None or lead_repository.readable_lead(session, principal, lead_id) is None:
        raise NotFound("No lead with id {id}.", field="lead_id", id=lead_id)
    raise Forbidden("Only admin, ops and the supervisor of the owner's team may reassign lead {id}.",
                    field="lead_id", id=lead_id)


def candidates(session: Session, at: datetime, policy: CompiledPolicy, snapshot: LeadSnapshot,
               pool: CompiledPool, also: Collection[int]) -> list[RepState]:
    """The pool's members, and the reps in ``also`` (named or excluded) even from outside it."""
    return rep_states(session, at, get_settings().zone, high_value=policy.policy.threshold_high_value,
                      members=lambda rep: rep.id in also or not membership(rep, snapshot, pool), narrow_to=pool,
                      also=also)
