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


class NewLeads:
    """Routing the leads a batch creates, in arrival order. Leads scored before they are stored are ``place``d just
    before their INSERT (``lead_service.intake_many``), which writes their rep with them; the others are routed
    once stored, by ``finish``."""

    def __init__(self, session: Session, *, actor: Principal | None) -> None:
        self._router, self._actor = router.Router(session), actor
        self._placed: set[int] = set()

    def place(self, leads: Sequence[Lead]) -> None:
        """Decide for these new leads, not stored yet (their ids taken), and give each its rep."""
        self._router.route_all(leads, actor=self._actor, stored=False)
        self._placed.update(lead.id for lead in leads)

    def finish(self, intakes: Sequence[lead_service.Intake]) -> dict[int, RoutingDecision]:
        """Route the new leads not placed, then write every decision (with the batch's leads stored)."""
        rest = [r.lead for r in intakes if r.created and r.lead.id not in self._placed]
        if not rest and not self._placed:
            return {}
        if rest:
            self._router.route_all(rest, actor=self._actor)
        return {row.lead_id: row for row in self._router.finish()}


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
