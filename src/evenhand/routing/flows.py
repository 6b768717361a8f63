"""Work that crosses domains: new leads are routed; a rep coming online may take held leads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from evenhand.auth.principal import Principal
from evenhand.leads import service as lead_service
from evenhand.models import Lead, LeadStatus, Presence, RoutingDecision, User
from evenhand.org import service as org_service
from evenhand.routing import holds, router


def set_presence(session: Session, user_id: int, presence: Presence, *, actor: Principal) -> User:
    """A presence change is evidence too (audited by the organisation service); a rep coming online may
    be the candidate a held lead was waiting for."""
    user = org_service.set_presence(session, user_id, presence, actor=actor)
    if presence is Presence.ONLINE:
        holds.release_held(session)
    return user


def route_new(session: Session, intakes: Sequence[lead_service.Intake], *,
              actor: Principal | None) -> dict[int, RoutingDecision]:
    """Route every lead a batch created, in arrival order."""
    if not any(r.created for r in intakes):
        return {}
    batch = router.Router(session)
    batch.route_all([r.lead for r in intakes if r.created], actor=actor)
    return {row.lead_id: row for row in batch.finish()}


def route_unrouted(session: Session, *, since: datetime | None = None, actor: Principal | None = None,
                   limit: int = 50_000) -> dict[int, RoutingDecision]:
    """Route, oldest first, the leads that came in without ever being routed: not history, nobody's, no outcome,
    and no routing decision (taken in by an older import, or while routing was off)."""
    decided = exists().where(RoutingDecision.lead_id == Lead.id)
    stmt = (select(Lead).where(Lead.owner_id.is_(None), Lead.status == LeadStatus.NEW, ~Lead.backfilled, ~decided)
            .order_by(Lead.created_at, Lead.id).limit(limit))
    if since is not None:
        stmt = stmt.where(Lead.created_at >= since)
    leads = list(session.scalars(stmt))
    if not leads:
        return {}
    batch = router.Router(session)
    batch.route_all(leads, actor=actor)
    return {row.lead_id: row for row in batch.finish()}
